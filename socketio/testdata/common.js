// Helpers shared by the client scripts of this folder (v2.js, v4.js,
// volatile.js): the output lines the Go tests parse, waiting for an event,
// bounding a wait, and running the scenario named by SCENARIO.

// out prints one observation, "<name> <json>", a line the Go test reads.
const out = (name, value) => console.log(name + " " + JSON.stringify(value));

// once resolves with the arguments of the next ev on s.
const once = (s, ev) => new Promise((resolve) => s.once(ev, (...args) => resolve(args)));

// withTimeout rejects, naming what it waited for, if p takes over ms.
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);

// transports is the TRANSPORTS list (comma-separated), undefined for the
// client's default.
const transports = process.env.TRANSPORTS ? process.env.TRANSPORTS.split(",") : undefined;

// connector returns connect(nsp, opts) for a client library's io(): a new
// connection to URL + nsp on the transports, without reconnection.
const connector = (io) => (nsp, opts = {}) =>
  io(process.env.URL + nsp, { transports, forceNew: true, reconnection: false, ...opts });

// runScenario runs scenarios[SCENARIO] within 20 s and exits 0, or 1 with
// the error on stderr. Exiting right away could cut the last packets (a
// DISCONNECT rides on the next polling request): they are left a moment.
const runScenario = (scenarios) => {
  const linger = () => new Promise((r) => setTimeout(r, 300));
  withTimeout(scenarios[process.env.SCENARIO](), 20000, process.env.SCENARIO).then(
    () => linger().then(() => process.exit(0)),
    (err) => {
      console.error(err);
      process.exit(1);
    }
  );
};

module.exports = { out, once, withTimeout, transports, connector, runScenario };
