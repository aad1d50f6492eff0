'use strict'
// Shared by the scripts here: a KafkaJS client that logs to stderr (stdout carries only
// the script's JSON result), consumer settings that keep group joins short, and main,
// which prints the result or fails with the error's stack.

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1' // the scripts choose partitions themselves
const { Kafka, logLevel } = require('kafkajs')

function kafka (broker, clientId) {
  return new Kafka({
    clientId,
    brokers: [broker],
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 3, initialRetryTime: 100 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, label, log }) => {
      const { message, timestamp, logger, ...rest } = log
      process.stderr.write(`${timestamp} ${label} [${namespace}] ${message} ${JSON.stringify(rest)}\n`)
    }
  })
}

// groupConfig makes joins and rebalances take well under a second against a broker
// with group.initial.rebalance.delay.ms=0: 6s is Kafka's minimum session timeout.
function groupConfig (groupId) {
  return { groupId, sessionTimeout: 6000, rebalanceTimeout: 3000, heartbeatInterval: 300, maxWaitTimeInMs: 100 }
}

// waitFor polls cond until it holds, failing after ms.
async function waitFor (what, cond, ms = 20000) {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`)
    await sleep(20)
  }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// headers turns KafkaJS's header map (Buffer values) into [name, value] string pairs.
function headers (h) {
  return Object.entries(h || {}).map(([k, v]) => [k, v === null || v === undefined ? null : v.toString()])
}

function main (run) {
  run().then(
    result => { process.stdout.write(JSON.stringify(result) + '\n'); process.exit(0) },
    err => { process.stderr.write(`FAILED: ${(err && err.stack) || err}\n${JSON.stringify(err)}\n`); process.exit(1) })
}

module.exports = { kafka, groupConfig, waitFor, sleep, headers, main }
