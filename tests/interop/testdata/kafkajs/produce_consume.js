'use strict'
// node produce_consume.js <bootstrap> <topic> <group> <n> <partitions>
// Produces n records per send, twice, with acks=-1 and GZIP, record i to partition
// i % partitions with key k<i> and headers; then reads the topic back in a consumer
// group, commits what it read and prints the send results and the records consumed.

const { CompressionTypes } = require('kafkajs')
const { kafka, groupConfig, waitFor, sleep, headers, main } = require('./common')

const [broker, topic, groupId, nArg, partitionsArg] = process.argv.slice(2)
const n = Number(nArg)
const partitions = Number(partitionsArg)

main(async () => {
  const client = kafka(broker, 'kafkajs-produce-consume')
  const producer = client.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const sends = []
  for (const run of ['first', 'second']) {
    const messages = []
    for (let i = 0; i < n; i++) {
      messages.push({ partition: i % partitions, key: `k${i}`, value: `${run}-${i}`, headers: { run, i: String(i) } })
    }
    const result = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages })
    sends.push(result.map(r => ({ partition: r.partition, errorCode: r.errorCode, baseOffset: Number(r.baseOffset) })))
  }
  await producer.disconnect()

  const consumer = client.consumer(groupConfig(groupId))
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const consumed = []
  const next = {} // partition -> offset after the last record read
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      consumed.push({
        partition,
        offset: Number(message.offset),
        key: message.key === null ? null : message.key.toString(),
        value: message.value === null ? null : message.value.toString(),
        headers: headers(message.headers)
      })
      next[partition] = Number(message.offset) + 1
    }
  })
  await waitFor(`${2 * n} records`, () => consumed.length >= 2 * n)
  await sleep(500) // room for a duplicate to show
  await consumer.commitOffsets(Object.entries(next).map(([partition, offset]) =>
    ({ topic, partition: Number(partition), offset: String(offset) })))
  await consumer.disconnect()
  return { sends, consumed }
})
