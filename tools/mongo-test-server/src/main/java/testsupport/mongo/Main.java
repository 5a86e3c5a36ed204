package testsupport.mongo;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * Starts an in-memory mongo-java-server for tests.
 *
 * Options (command line wins over environment):
 *   --host H            / MONGO_TEST_HOST            (default 127.0.0.1)
 *   --port P            / MONGO_TEST_PORT            (default 27017; 0 = pick a free port)
 *   --server-version V  / MONGO_TEST_SERVER_VERSION  (reported version, default 5.0.0)
 *   --wire-version W    / MONGO_TEST_WIRE_VERSION    (reported maxWireVersion, default 13 = MongoDB 5.0)
 *   --oplog             / MONGO_TEST_OPLOG=1         (enable the oplog: needed for change streams / watch())
 *   --replica-set NAME  / MONGO_TEST_REPLICA_SET     (isMaster reports a one-member replica set NAME with this server
 *                                                      as primary; implies --oplog. Only the handshake: no elections,
 *                                                      no majority, no sessions, no transactions)
 *   --exit-on-stdin-eof / MONGO_TEST_EXIT_ON_EOF=1   (stop when stdin closes: a parent that dies, even by SIGKILL,
 *                                                      closes the pipe, so no server outlives its test process)
 *
 * Prints exactly one line "READY mongodb://host:port" on stdout once it accepts connections.
 * SIGTERM / SIGINT shut it down (exit code 143 / 130 from the JVM).
 */
public final class Main {

    private record ReportedVersion(List<Integer> versionArray, int wireVersion) implements MongoVersion {
        @Override
        public List<Integer> getVersionArray() {
            return versionArray;
        }

        @Override
        public int getWireVersion() {
            return wireVersion;
        }
    }

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        String host = env("MONGO_TEST_HOST", "127.0.0.1");
        int port = Integer.parseInt(env("MONGO_TEST_PORT", "27017"));
        String serverVersion = env("MONGO_TEST_SERVER_VERSION", "5.0.0");
        int wireVersion = Integer.parseInt(env("MONGO_TEST_WIRE_VERSION", "13"));
        boolean oplog = "1".equals(env("MONGO_TEST_OPLOG", "0")) || "true".equalsIgnoreCase(env("MONGO_TEST_OPLOG", "0"));
        String replicaSet = env("MONGO_TEST_REPLICA_SET", "");
        boolean exitOnEof = "1".equals(env("MONGO_TEST_EXIT_ON_EOF", "0")) || "true".equalsIgnoreCase(env("MONGO_TEST_EXIT_ON_EOF", "0"));

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--server-version" -> serverVersion = args[++i];
                case "--wire-version" -> wireVersion = Integer.parseInt(args[++i]);
                case "--oplog" -> oplog = true;
                case "--replica-set" -> replicaSet = args[++i];
                case "--exit-on-stdin-eof" -> exitOnEof = true;
                default -> {
                    System.err.println("unknown argument: " + a);
                    System.exit(2);
                }
            }
        }

        List<Integer> versionArray = new ArrayList<>();
        for (String part : serverVersion.split("\\.")) {
            versionArray.add(Integer.parseInt(part));
        }
        while (versionArray.size() < 3) {
            versionArray.add(0);
        }

        if (!replicaSet.isEmpty()) {
            oplog = true; // a replica set without an oplog would promise change streams it cannot deliver
        }
        SnapshotMemoryBackend backend = new SnapshotMemoryBackend();
        backend.version(new ReportedVersion(List.copyOf(versionArray), wireVersion));
        MongoServer server = new MongoServer(backend);
        if (oplog) {
            server.enableOplog();
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.shutdownNow();
            } finally {
                stopped.countDown();
            }
        }, "mongo-test-server-shutdown"));

        try {
            server.bind(host, port);
        } catch (Exception e) {
            // netty threads are non-daemon: without an explicit exit the JVM would hang here
            System.err.println("FAILED to bind " + host + ":" + port + ": " + e);
            System.exit(1);
        }
        InetSocketAddress addr = server.getLocalAddress();
        if (!replicaSet.isEmpty()) {
            // Before READY, so no client sees a standalone first. The member is the address clients connect to.
            backend.reportReplicaSet(replicaSet, addr.getHostString() + ":" + addr.getPort());
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("READY mongodb://" + addr.getHostString() + ":" + addr.getPort()
            + " version=" + serverVersion + " wire=" + wireVersion + " oplog=" + oplog + " replicaSet=" + (replicaSet.isEmpty() ? "-" : replicaSet) + " startup_ms=" + ms);
        System.out.flush();

        if (exitOnEof) {
            Thread watchdog = new Thread(() -> {
                try {
                    while (System.in.read() != -1) {
                        // the parent never writes; anything it does write is ignored
                    }
                } catch (java.io.IOException ignored) {
                    // a broken pipe means the parent is gone, the same as EOF
                }
                System.exit(0);
            }, "mongo-test-server-parent-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }

        stopped.await();
    }

    private static String env(String name, String def) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? def : v;
    }

    private Main() {
    }
}
