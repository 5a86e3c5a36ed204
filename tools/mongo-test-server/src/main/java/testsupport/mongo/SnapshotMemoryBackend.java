package testsupport.mongo;

import java.util.List;
import java.util.function.Supplier;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;
import io.netty.channel.Channel;

/**
 * The memory backend with two fixes to findAndModify, and an optional replica-set handshake.
 *
 * 1. What findAndModify returns is a copy taken under the collection's lock. The stock memory backend updates stored
 * documents in place and hands the live document to the wire encoder, which runs after the lock is released. So
 * findAndModify with returnDocument "after" could report a later caller's update: nine concurrent $inc by 1 returned
 * 1,2,3,4,6,7,7,8,9 in about one round in ten. A real mongod returns the document as of that operation; so does this
 * one. (Only findAndModify is copied: the collection's own update path finds documents through handleQuery and must
 * get the stored ones.)
 *
 * 2. findAndModify writes reach the oplog, so change streams report them. The stock backend records insert, update
 * and delete commands there but not findAndModify (findOneAndUpdate, findOneAndDelete, upserts through them), so a
 * change stream never saw those writes: Agenda's deduplicated ticket saves among them. Here an update is recorded as
 * an update of the matched document (also when it changed nothing, where a real server records none), an upsert that
 * inserted as an insert of the stored document, a remove as a delete, under the collection's lock like the stock
 * update path.
 */
final class SnapshotMemoryBackend extends MemoryBackend {

    private volatile String replicaSetName;
    private volatile String replicaSetMember;

    /**
     * Makes `isMaster` describe this server as the primary of a one-member replica set `name` whose only member is
     * `member` (host:port, as clients address it). Only the handshake changes: no elections, no secondaries, no
     * majority, no read concern; the oplog (for change streams) must be enabled separately. It exists so that clients
     * that look for `setName` before opening change streams (drivers, the app's scheduler) can be tested here.
     */
    void reportReplicaSet(String name, String member) {
        this.replicaSetMember = member;
        this.replicaSetName = name;
    }

    @Override
    public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
        Document reply = super.handleCommand(channel, databaseName, command, query);
        String name = replicaSetName;
        if (name != null && reply != null && command.equalsIgnoreCase("ismaster")) {
            String member = replicaSetMember;
            reply.put("setName", name);
            reply.put("setVersion", 1);
            reply.put("hosts", List.of(member));
            reply.put("primary", member);
            reply.put("me", member);
            reply.put("secondary", false);
        }
        return reply;
    }

    @Override
    public MemoryDatabase openOrCreateDatabase(String databaseName) {
        // The oplog is read at each write: enableOplog() may come after a database exists.
        return new SnapshotDatabase(databaseName, getCursorRegistry(), () -> oplog);
    }

    private static final class SnapshotDatabase extends MemoryDatabase {
        private final Supplier<Oplog> oplog;

        SnapshotDatabase(String name, CursorRegistry cursorRegistry, Supplier<Oplog> oplog) {
            super(name, cursorRegistry);
            this.oplog = oplog;
        }

        @Override
        protected MemoryCollection openOrCreateCollection(String collectionName, CollectionOptions options) {
            return new SnapshotCollection(this, collectionName, options, cursorRegistry, oplog);
        }
    }

    private static final class SnapshotCollection extends MemoryCollection {
        private final Supplier<Oplog> oplog;

        SnapshotCollection(MongoDatabase database, String name, CollectionOptions options, CursorRegistry cursorRegistry, Supplier<Oplog> oplog) {
            super(database, name, options, cursorRegistry);
            this.oplog = oplog;
        }

        @Override
        public synchronized Document findAndModify(Document query) {
            Document selector = query.get("query") instanceof Document q ? q : new Document();
            boolean remove = Utils.isTrue(query.get("remove"));
            boolean upsert = !remove && Utils.isTrue(query.get("upsert"));
            Document effective = query;
            // The oplog needs the document's _id, which a projection may leave out: ask with it, drop it afterwards.
            boolean dropId = query.get("fields") instanceof Document fields && fields.containsKey("_id") && !Utils.isTrue(fields.get("_id"));
            if (dropId) {
                effective = effective.clone();
                Document fields = ((Document) query.get("fields")).clone();
                fields.remove("_id");
                if (fields.isEmpty()) {
                    effective.remove("fields");
                } else {
                    effective.put("fields", fields);
                }
            }
            // An upsert returning the document as it was ("new" false) returns nothing when it inserts, so nothing would
            // tell the inserted _id: when nothing matches (checked under this same lock), ask for the new document
            // instead and answer null, as asked.
            boolean insertReturnsNull = false;
            if (upsert && !Utils.isTrue(query.get("new")) && !handleQuery(selector, 0, 1).iterator().hasNext()) {
                effective = effective == query ? effective.clone() : effective;
                effective.put("new", Boolean.TRUE);
                insertReturnsNull = true;
            }
            Document result = super.findAndModify(effective);
            if (result == null) {
                return null;
            }
            result = result.cloneDeeply();
            Document value = result.get("value") instanceof Document v ? v : null;
            boolean updatedExisting = result.get("lastErrorObject") instanceof Document e && Utils.isTrue(e.get("updatedExisting"));
            if (value != null) {
                Object id = value.get("_id");
                if (remove) {
                    oplog.get().handleDelete(getFullName(), selector, List.of(id));
                } else if (updatedExisting) {
                    Document update = query.get("update") instanceof Document u ? u : new Document();
                    oplog.get().handleUpdate(getFullName(), selector, update, List.of(id));
                } else if (upsert) {
                    for (Document stored : handleQuery(new Document("_id", id))) {
                        oplog.get().handleInsert(getFullName(), List.of(stored.cloneDeeply()));
                    }
                }
                if (dropId) {
                    value.remove("_id");
                }
            }
            if (insertReturnsNull && !updatedExisting) {
                result.put("value", null);
            }
            return result;
        }
    }
}
