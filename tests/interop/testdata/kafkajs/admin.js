'use strict'
// node admin.js <bootstrap> <topic> <doomed> <group>
// Through KafkaJS's admin client: creates topic (2 partitions, retention.ms=3600000),
// reads its metadata and configs, grows it to 4 partitions, lists and describes group
// while a consumer of topic is in it, fetches the group's offsets after the consumer
// committed and left, and deletes topic doomed. Prints what each call returned.

const { AssignerProtocol, ConfigResourceTypes } = require('kafkajs')
const { kafka, groupConfig, waitFor, main } = require('./common')

const [broker, topic, doomed, groupId] = process.argv.slice(2)

const partitionsOf = metadata => metadata.topics.map(t => ({
  name: t.name,
  partitions: t.partitions
    .map(p => ({ partition: p.partitionId, errorCode: p.partitionErrorCode, leader: p.leader, replicas: p.replicas, isr: p.isr }))
    .sort((a, b) => a.partition - b.partition)
}))

main(async () => {
  const client = kafka(broker, 'kafkajs-admin')
  const admin = client.admin()
  await admin.connect()
  const out = {}

  out.created = await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }]
  })
  out.createdAgain = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] }) // false: it exists
  out.metadata = partitionsOf(await admin.fetchTopicMetadata({ topics: [topic] }))
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }]
  })
  out.configs = configs.resources.map(r => ({
    name: r.resourceName,
    errorCode: r.errorCode,
    entries: r.configEntries
      .map(e => ({ name: e.configName, value: e.configValue, isDefault: e.isDefault, readOnly: e.readOnly }))
      .sort((a, b) => a.name.localeCompare(b.name))
  }))
  await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] })
  out.grown = partitionsOf(await admin.fetchTopicMetadata({ topics: [topic] }))

  // One record per partition, read by a group member that commits them.
  const producer = client.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3].map(p => ({ partition: p, value: `admin-${p}` })) })
  await producer.disconnect()
  const consumer = client.consumer(groupConfig(groupId))
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const read = []
  await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => { read.push({ partition, offset: Number(message.offset) }) } })
  await waitFor('4 records', () => read.length >= 4)
  await consumer.commitOffsets(read.map(r => ({ topic, partition: r.partition, offset: String(r.offset + 1) })))

  out.listed = (await admin.listGroups()).groups
  out.described = (await admin.describeGroups([groupId])).groups.map(g => ({
    groupId: g.groupId,
    errorCode: g.errorCode,
    state: g.state,
    protocolType: g.protocolType,
    protocol: g.protocol,
    members: g.members.map(m => ({
      clientId: m.clientId,
      assignment: AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment
    }))
  }))
  await consumer.disconnect()

  out.offsets = (await admin.fetchOffsets({ groupId, topics: [topic] })).map(t => ({
    topic: t.topic,
    partitions: t.partitions.map(p => ({ partition: p.partition, offset: Number(p.offset) })).sort((a, b) => a.partition - b.partition)
  }))
  await admin.deleteTopics({ topics: [doomed], timeout: 10000 })
  out.topicsAfterDelete = (await admin.listTopics()).sort()
  await admin.disconnect()
  return out
})
