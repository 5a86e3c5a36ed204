package testsupport.mongo;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.Document;

/**
 * The memory backend, except that what findAndModify returns is a copy taken under the collection's lock.
 *
 * The stock memory backend updates stored documents in place and hands the live document to the wire encoder,
 * which runs after the lock is released. So findAndModify with returnDocument "after" could report a later
 * caller's update: nine concurrent $inc by 1 returned 1,2,3,4,6,7,7,8,9 in about one round in ten. A real
 * mongod returns the document as of that operation; so does this one. (Only findAndModify is copied: the
 * collection's own update path finds documents through handleQuery and must get the stored ones.)
 */
final class SnapshotMemoryBackend extends MemoryBackend {

    @Override
    public MemoryDatabase openOrCreateDatabase(String databaseName) {
        return new SnapshotDatabase(databaseName, getCursorRegistry());
    }

    private static final class SnapshotDatabase extends MemoryDatabase {
        SnapshotDatabase(String name, CursorRegistry cursorRegistry) {
            super(name, cursorRegistry);
        }

        @Override
        protected MemoryCollection openOrCreateCollection(String collectionName, CollectionOptions options) {
            return new SnapshotCollection(this, collectionName, options, cursorRegistry);
        }
    }

    private static final class SnapshotCollection extends MemoryCollection {
        SnapshotCollection(MongoDatabase database, String name, CollectionOptions options, CursorRegistry cursorRegistry) {
            super(database, name, options, cursorRegistry);
        }

        @Override
        public synchronized Document findAndModify(Document query) {
            Document result = super.findAndModify(query);
            return result == null ? null : result.cloneDeeply();
        }
    }
}
