'use strict'
// node group.js <bootstrap> <topic> <group> <n> <partitions>
// Starts two consumers, a and b, in one group on topic; once their assignments split
// the partitions between them, produces n records to each partition, reads them all
// (auto commit on), and prints every record with the member that read it and each
// member's final assignment.

const { kafka, groupConfig, waitFor, sleep, main } = require('./common')

const [broker, topic, groupId, nArg, partitionsArg] = process.argv.slice(2)
const n = Number(nArg)
const partitions = Number(partitionsArg)

main(async () => {
  const client = kafka(broker, 'kafkajs-group')
  const consumed = []
  const assignments = {} // member -> partitions of topic, from its latest join
  const members = {}
  for (const member of ['a', 'b']) {
    const consumer = client.consumer(groupConfig(groupId))
    consumer.on(consumer.events.GROUP_JOIN, e => { assignments[member] = (e.payload.memberAssignment[topic] || []).slice().sort() })
    members[member] = consumer
  }
  await Promise.all(Object.entries(members).map(async ([member, consumer]) => {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        consumed.push({ member, partition, offset: Number(message.offset), key: null, value: message.value.toString(), headers: [] })
      }
    })
  }))
  const split = () => {
    const a = assignments.a || []
    const b = assignments.b || []
    const all = [...a, ...b].sort()
    return a.length > 0 && b.length > 0 && all.length === partitions && all.every((p, i) => p === i)
  }
  await waitFor('both members to hold partitions', split)

  const producer = client.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const messages = []
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < n; i++) messages.push({ partition: p, value: `group-${p}-${i}` })
  }
  await producer.send({ topic, acks: -1, messages })
  await producer.disconnect()

  await waitFor(`${messages.length} records`, () => consumed.length >= messages.length)
  await sleep(500) // room for a duplicate to show
  const result = { consumed, assignments: { ...assignments }, stillSplit: split() }
  await Promise.all(Object.values(members).map(c => c.disconnect())) // commits what was read
  return result
})
