#!/usr/bin/env bash
# Builds tools/mongo-test-server/target/mongo-test-server.jar (mongo-java-server + launcher, shaded) with Maven.
# Skips the build when the jar is newer than pom.xml and every source file. A lock serialises concurrent
# callers (parallel test processes, npm pretest) so they never run Maven on the same target/ at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
JAR=target/mongo-test-server.jar

up_to_date() {
  [[ -f "$JAR" ]] || return 1
  [[ -z "$(find pom.xml src -newer "$JAR" -print -quit)" ]]
}

up_to_date && exit 0
mkdir -p target
exec 9>target/.build.lock
flock 9
# Another caller may have built it while we waited for the lock.
up_to_date && exit 0
command -v mvn >/dev/null || { echo "mongo-test-server: Maven (mvn) is required to build the test server (apt-get install -y maven)" >&2; exit 1; }
echo "mongo-test-server: building $JAR with Maven..." >&2
mvn -q -B -Dstyle.color=never -f pom.xml -DskipTests package >&2
BUILT=target/maven/mongo-test-server.jar
[[ -f "$BUILT" ]] || { echo "mongo-test-server: Maven finished but $BUILT is missing" >&2; exit 1; }
# Copy, then rename: a server still running the previous jar keeps reading its own (unlinked) file.
cp "$BUILT" "$JAR.tmp"
mv -f "$JAR.tmp" "$JAR"
