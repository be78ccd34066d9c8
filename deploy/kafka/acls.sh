#!/usr/bin/env bash
# The minimum Kafka ACLs of the stage (`eos-rollup run`), one kafka-acls call per resource, each with the calls
# of the stage that need it. The README's "Minimum ACLs" is this file.
#
#   PRINCIPAL=User:eos-rollup BOOTSTRAP=broker:9092 COMMAND_CONFIG=admin.properties deploy/kafka/acls.sh
#
# Variables (defaults in brackets): PRINCIPAL [User:eos-rollup], BOOTSTRAP [localhost:9092], COMMAND_CONFIG
# (client properties of an admin principal, optional), KAFKA_ACLS [kafka-acls.sh], and the stage's own APP_ID,
# INPUT_TOPIC, INVENTORY_TOPIC, OUTPUT_TOPIC, DLQ_TOPIC with the stage's defaults. CREATE_TOPICS=false leaves
# out CREATE, for when you create the output, DLQ, changelog and journal topics yourself (settings: README,
# "Topics"); OLD_BROKER=true adds IdempotentWrite for brokers before 2.8.
#
# Implied operations are not granted twice: READ, WRITE and DELETE imply DESCRIBE.
set -euo pipefail

PRINCIPAL=${PRINCIPAL:-User:eos-rollup}
BOOTSTRAP=${BOOTSTRAP:-localhost:9092}
KAFKA_ACLS=${KAFKA_ACLS:-kafka-acls.sh}
APP_ID=${APP_ID:-eos-rollup}
INPUT_TOPIC=${INPUT_TOPIC:-server-metrics}
INVENTORY_TOPIC=${INVENTORY_TOPIC:-host-inventory}
OUTPUT_TOPIC=${OUTPUT_TOPIC:-server-metrics-rollup-1m}
DLQ_TOPIC=${DLQ_TOPIC:-server-metrics-dlq}
CHANGELOG_TOPIC="${APP_ID}-rollup-state-changelog"
ATTEMPTS_TOPIC="${APP_ID}-processing-attempts"
CREATE_TOPICS=${CREATE_TOPICS:-true}

acl() {
  # shellcheck disable=SC2086 # KAFKA_ACLS may be a command with arguments (scripts/kafka-tool kafka-acls)
  $KAFKA_ACLS --bootstrap-server "$BOOTSTRAP" ${COMMAND_CONFIG:+--command-config "$COMMAND_CONFIG"} \
    --add --allow-principal "$PRINCIPAL" "$@"
}

# Input: the group's consumer fetches it (Fetch), the lag reader reads one record at the committed offset
# (Fetch), and TxnOffsetCommit names it (READ); Metadata, ListOffsets and OffsetFetch need DESCRIBE (implied).
acl --operation Read --topic "$INPUT_TOPIC"
# The lag reader reads the input's retention.ms (DescribeConfigs) for eos_rollup_input_retention_seconds and the
# data-loss alert. Optional: without it the stage runs, that gauge is absent and that alert blind.
acl --operation DescribeConfigs --topic "$INPUT_TOPIC"

# Inventory: read in full at start and followed (Fetch, ListOffsets).
acl --operation Read --topic "$INVENTORY_TOPIC"

# Output and DLQ: written inside the task transactions (AddPartitionsToTxn, Produce).
acl --operation Write --topic "$OUTPUT_TOPIC"
acl --operation Write --topic "$DLQ_TOPIC"

# Changelog: written inside the task transactions, read back by restores (Fetch), and its cleanup.policy
# checked at every start (DescribeConfigs: the stage refuses to start without it).
acl --operation Write --operation Read --operation DescribeConfigs --topic "$CHANGELOG_TOPIC"

# Processing-attempts journal (the crash-loop guard): written outside the transactions by an idempotent producer
# (Produce), its last record read back when a task starts (ListOffsets, Fetch).
acl --operation Write --operation Read --topic "$ATTEMPTS_TOPIC"

# The stage creates output, DLQ, changelog and journal at start when they are missing (CreateTopics).
if [ "$CREATE_TOPICS" = true ]; then
  acl --operation Create --topic "$OUTPUT_TOPIC"
  acl --operation Create --topic "$DLQ_TOPIC"
  acl --operation Create --topic "$CHANGELOG_TOPIC"
  acl --operation Create --topic "$ATTEMPTS_TOPIC"
fi

# The consumer group: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch, and the transactions'
# AddOffsetsToTxn and TxnOffsetCommit (READ).
acl --operation Read --group "$APP_ID"

# The inventory follower's private groups (<APP_ID>-inventory-<uuid>), which never commit: it joins one to read
# (READ) and deletes it when done (DeleteGroups: DELETE; best effort, an empty group expires on its own without
# it). Restores fetch the changelog directly and need no group.
acl --operation Read --operation Delete --group "${APP_ID}-inventory-" --resource-pattern-type prefixed

# One transactional id per input partition, <APP_ID>-<INPUT_TOPIC>-<partition>: InitProducerId, AddPartitionsToTxn,
# AddOffsetsToTxn, TxnOffsetCommit, EndTxn and transactional Produce (WRITE); FindCoordinator (DESCRIBE, implied).
acl --operation Write --transactional-id "${APP_ID}-${INPUT_TOPIC}-" --resource-pattern-type prefixed

# The broker's transaction.max.timeout.ms, checked against TRANSACTION_TIMEOUT_MS at start (DescribeConfigs on a
# broker resource: the stage refuses to start without it).
acl --operation DescribeConfigs --cluster

# Brokers before 2.8 only: the journal's idempotent producer (InitProducerId without a transactional id) needs
# IdempotentWrite on the cluster; from 2.8 on, WRITE on any topic implies it (KIP-679). The task producers are
# transactional: WRITE on their transactional id authorizes them on any version.
if [ "${OLD_BROKER:-false}" = true ]; then
  acl --operation IdempotentWrite --cluster
fi
