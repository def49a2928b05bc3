// A W3C EventSource (the npm package eventsource, which follows the
// specification: reconnection after `retry`, Last-Event-ID on reconnection)
// subscribed to the event stream, for the e2e test of plain and named
// events.
//
// Usage: node eventsource_client.js <npm prefix> <stream URL> <count>
//            <notes file> [named]
//
// Without `named`, listens with onmessage only. With it, listens with
// addEventListener for site.created, site.renamed and theme.created, and
// notes anything onmessage receives as unexpected. Appends one JSON line
// per happening to <notes file> ({"open":n}, {"error":...},
// {"message":{...}}, {"unexpected":...}); exits 0 after <count> events,
// 3 after 60 s without them.
'use strict';

const fs = require('fs');
const path = require('path');

const [prefix, url, count, notes, mode] = process.argv.slice(2);
if (!notes) {
  console.error('usage: eventsource_client.js <npm prefix> <stream URL> ' +
                '<count> <notes file> [named]');
  process.exit(2);
}
const EventSource = require(path.join(prefix, 'node_modules', 'eventsource'));

const note = (line) => fs.appendFileSync(notes, JSON.stringify(line) + '\n');
const got = [];
let opens = 0;
const es = new EventSource(url);
es.onopen = () => note({open: ++opens});
es.onerror = (e) => note({error: (e && (e.status || e.message)) || 'error'});
const onEvent = (e) => {
  const data = JSON.parse(e.data);
  const m = {id: e.lastEventId, name: e.type, type: data.type, seq: data.seq};
  got.push(m);
  note({message: m});
  if (got.length >= Number(count)) {
    es.close();
    note({done: got.length, opens});
    process.exit(0);
  }
};
if (mode === 'named') {
  for (const type of ['site.created', 'site.renamed', 'theme.created']) {
    es.addEventListener(type, onEvent);
  }
  es.onmessage = (e) => note({unexpected: e.data});
} else {
  es.onmessage = onEvent;
}
setTimeout(() => {
  note({timeout: got.length, opens});
  process.exit(3);
}, 60000);
