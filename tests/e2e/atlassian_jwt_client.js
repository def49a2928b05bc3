// Signs one request with Atlassian's own JWT library (the npm package
// atlassian-jwt) and sends it, for the e2e test of QSH compatibility.
//
// Usage: node atlassian_jwt_client.js <npm prefix> <base URL> <METHOD>
//            <path?query> <clientKey> <sharedSecret> [sub] [JSON body]
//
// <path?query> is sent exactly as given (it must already be
// percent-encoded where HTTP requires it). Prints one JSON line:
// {"status":..., "canonical":..., "qsh":..., "body":...}.
'use strict';

const http = require('http');
const path = require('path');

const [prefix, baseUrl, method, target, clientKey, secret, sub, body] =
    process.argv.slice(2);
if (!secret) {
  console.error('usage: atlassian_jwt_client.js <npm prefix> <base URL> ' +
                '<METHOD> <path?query> <clientKey> <sharedSecret> [sub] ' +
                '[body]');
  process.exit(2);
}
const jwt = require(path.join(prefix, 'node_modules', 'atlassian-jwt'));

const request = jwt.fromMethodAndUrl(method, target);
const now = Math.floor(Date.now() / 1000);
const claims = {
  iss: clientKey,
  iat: now,
  exp: now + 180,
  qsh: jwt.createQueryStringHash(request, false, baseUrl),
};
if (sub) claims.sub = sub;
// encode() in 1.x, encodeSymmetric() (HS256 by default) in 2.x.
const encode = jwt.encodeSymmetric || jwt.encode;
const token = encode(claims, secret);

const url = new URL(baseUrl);
const headers = {Authorization: 'JWT ' + token};
if (body) {
  headers['Content-Type'] = 'application/json';
  headers['Content-Length'] = Buffer.byteLength(body);
}
const req = http.request(
    {host: url.hostname, port: url.port, method, path: target, headers},
    (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => data += chunk);
      res.on('end', () => {
        process.stdout.write(JSON.stringify({
          status: res.statusCode,
          canonical: jwt.createCanonicalRequest(request, false, baseUrl),
          qsh: claims.qsh,
          body: data,
        }) + '\n');
      });
    });
req.on('error', (e) => {
  console.error('request failed: ' + e.message);
  process.exit(1);
});
if (body) req.write(body);
req.end();
