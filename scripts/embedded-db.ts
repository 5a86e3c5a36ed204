// Manages the embedded PostgreSQL cluster under .data/pg, or $CRONPLANE_DATA_DIR/pg (the default database when DATABASE_URL is unset).
// Usage: node --conditions=react-server --import tsx scripts/embedded-db.ts <status|stop|start>
import { embeddedStatus, ensureEmbeddedPostgres, stopEmbeddedPostgres } from '../lib/store/postgres/embedded';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'status': {
      const s = embeddedStatus();
      if (!s.initialized) console.log(`no embedded cluster in ${s.dataDir} (created on the app's first start)`);
      else if (s.pid === null) console.log(`stopped (${s.dataDir})`);
      else console.log(`running: pid ${s.pid}, 127.0.0.1:${s.port} (${s.dataDir})`);
      return 0;
    }
    case 'stop': {
      const stopped = await stopEmbeddedPostgres();
      console.log(stopped ? 'embedded PostgreSQL stopped' : 'embedded PostgreSQL was not running');
      return 0;
    }
    case 'start': {
      const { dataDir } = await ensureEmbeddedPostgres();
      console.log(`embedded PostgreSQL running (${dataDir})`);
      return 0;
    }
    default:
      console.error('usage: embedded-db.ts <status|stop|start>');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
