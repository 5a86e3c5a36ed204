import { z } from 'zod';

/** The id of a job, run, user or token, as it arrives in a path: a UUID. The services answer "not found" for anything else. */
export const IdSchema = z.string().uuid('not a valid id');
