'use strict'
// node txn.js <bootstrap> <topic> <group> <n>
// Sends n records idem-<i> with an idempotent producer, then with a transactional one
// three transactions of n records each over partitions i % 2: committed-<i> (with the
// group's offset 7 on partition 0), aborted-<i> (with offset 99 on partition 1), and
// after-<i>, committed. Prints the producer ids it was given back, as send results.

const { kafka, main } = require('./common')

const [broker, topic, groupId, nArg] = process.argv.slice(2)
const n = Number(nArg)

const messages = label => Array.from({ length: n }, (_, i) => ({ partition: i % 2, key: `k${i}`, value: `${label}-${i}` }))
const acks = result => result.map(r => ({ partition: r.partition, errorCode: r.errorCode, baseOffset: Number(r.baseOffset) }))

main(async () => {
  const client = kafka(broker, 'kafkajs-txn')
  const out = {}

  const idempotent = client.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await idempotent.connect()
  out.idempotent = acks(await idempotent.send({ topic, acks: -1, messages: messages('idem') }))
  await idempotent.disconnect()

  const producer = client.producer({
    transactionalId: 'kafkajs-txn', idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false
  })
  await producer.connect()
  const transaction = async (label, offset, finish) => {
    const txn = await producer.transaction()
    const result = acks(await txn.send({ topic, messages: messages(label) }))
    await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [offset] }] })
    await txn[finish]()
    return result
  }
  out.committed = await transaction('committed', { partition: 0, offset: '7' }, 'commit')
  out.aborted = await transaction('aborted', { partition: 1, offset: '99' }, 'abort')
  out.after = await transaction('after', { partition: 0, offset: '7' }, 'commit')
  await producer.disconnect()
  return out
})
