import type { Metadata } from 'next';
import { requirePageRole, requireActor } from '@/lib/auth/session';
import { listUsers, type PublicUser } from '@/lib/services/users';
import { USER_ROLES } from '@/lib/store/types';
import { MIN_PASSWORD_LENGTH } from '@/lib/validation/user';
import { DataTable, OptionList, type Column } from '../../_components/data-table';
import { Time } from '../../_components/time';
import { ActionForm } from '../action-form';
import { CreatePanel } from '../create-panel';
import {
  changeRoleAction,
  createUserAction,
  deleteUserAction,
  resetPasswordAction,
  revokeSessionsAction,
  setDisabledAction,
} from '../actions';

export const metadata: Metadata = { title: 'Users' };

const COLUMNS: ReadonlyArray<Column<PublicUser>> = [
  { header: 'Username', cell: (user) => user.username },
  {
    header: 'Role',
    cell: (user) => (
      <ActionForm action={changeRoleAction.bind(null, user.id)} className="cell-inline" label={`Role of ${user.username}`}>
        <label className="sr-only" htmlFor={`role-${user.id}`}>
          Role of {user.username}
        </label>
        <select id={`role-${user.id}`} name="role" defaultValue={user.role}>
          <OptionList values={USER_ROLES} />
        </select>
        <button type="submit" className="btn btn-sm">
          Change role
        </button>
      </ActionForm>
    ),
  },
  {
    header: 'State',
    cell: (user) => (
      <>
        {user.disabled ? 'disabled' : user.lockedUntil && user.lockedUntil.getTime() > Date.now() ? 'locked' : 'active'}
        {user.failedLogins > 0 && <span className="muted small"> · {user.failedLogins} failed sign-ins</span>}
      </>
    ),
  },
  { header: 'Created', cell: (user) => <Time iso={user.createdAt.toISOString()} /> },
  { header: 'Actions', cell: (user) => <UserActions user={user} /> },
];

/** Enable or disable, end sessions, reset the password, delete (with a confirmation box). */
function UserActions({ user }: { user: PublicUser }) {
  return (
    <>
      <div className="cell-inline">
        <ActionForm
          action={setDisabledAction.bind(null, user.id, !user.disabled)}
          label={`${user.disabled ? 'Enable' : 'Disable'} ${user.username}`}
        >
          <button type="submit" className="btn btn-sm">
            {user.disabled ? 'Enable' : 'Disable'}
          </button>
        </ActionForm>
        <ActionForm action={revokeSessionsAction.bind(null, user.id)} label={`End sessions of ${user.username}`}>
          <button type="submit" className="btn btn-sm">
            End sessions
          </button>
        </ActionForm>
      </div>
      <ActionForm action={resetPasswordAction.bind(null, user.id)} className="cell-inline" label={`Reset password of ${user.username}`}>
        <label className="sr-only" htmlFor={`pw-${user.id}`}>
          New password for {user.username}
        </label>
        <input
          id={`pw-${user.id}`}
          name="password"
          type="password"
          required
          minLength={MIN_PASSWORD_LENGTH}
          placeholder="New password"
          autoComplete="new-password"
        />
        <button type="submit" className="btn btn-sm">
          Reset password
        </button>
      </ActionForm>
      <ActionForm action={deleteUserAction.bind(null, user.id)} className="cell-inline" label={`Delete ${user.username}`}>
        <label className="small">
          <input type="checkbox" name="confirm" value="yes" required /> sure
        </label>
        <button type="submit" className="btn btn-danger btn-sm">
          Delete
        </button>
      </ActionForm>
    </>
  );
}

/** Admins: create users with a role, change roles, disable, reset passwords, end sessions, delete. */
export default async function UsersPage() {
  await requirePageRole('admin', '/jobs');
  const actor = await requireActor('admin');
  const users = await listUsers(actor);
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Users</h1>
          <p className="muted">
            Admins manage everything; operators create, edit, pause, resume, run and delete jobs; viewers only read. Any change to a user
            ends their sessions. The last enabled admin cannot be demoted, disabled or deleted.
          </p>
        </div>
      </div>

      <CreatePanel idPrefix="new-user" title="New user" action={createUserAction} defaultRole="viewer" submitLabel="Create user">
        <div className="field">
          <label htmlFor="nu-username">Username</label>
          <input id="nu-username" name="username" required maxLength={64} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="nu-password">Initial password</label>
          <input id="nu-password" name="password" type="password" required minLength={MIN_PASSWORD_LENGTH} autoComplete="new-password" />
        </div>
      </CreatePanel>

      <DataTable
        label="Users"
        columns={COLUMNS}
        rows={users}
        rowKey={(user) => user.id}
        rowAttributes={(user) => ({ 'data-user': user.username })}
      />
    </>
  );
}
