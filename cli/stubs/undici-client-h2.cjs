// Bundled in place of undici's HTTP/2 client (see build.mjs): the CLI never enables allowH2, so
// HTTP/2 is never negotiated, and loading node:http2 for nothing cost ~11 ms of every command.
'use strict';
module.exports = function connectH2() {
  throw new Error('HTTP/2 is not enabled in the taskmaster CLI');
};
