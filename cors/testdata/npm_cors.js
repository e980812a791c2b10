// Runs the real npm `cors` middleware (the one socket.io and engine.io use)
// on the cases the Go differential test writes to $CASES_FILE, and prints what it
// did to each response as JSON: headers, status, whether it answered, and
// whether it called next().
const cors = require("cors");

function toRegExp(spec) {
  return new RegExp(spec.regexp);
}

function npmOptions(o) {
  const out = Object.assign({}, o);
  if (Array.isArray(o.origin)) {
    out.origin = o.origin.map((x) => (typeof x === "string" ? x : toRegExp(x)));
  }
  return out;
}

function run(c) {
  const headers = {};
  const names = {};
  if (c.vary) {
    headers.vary = c.vary;
    names.vary = "Vary";
  }
  const req = { method: c.method, headers: {} };
  for (const [k, v] of Object.entries(c.headers || {})) req.headers[k.toLowerCase()] = v;
  const result = { status: 0, answered: false, next: false, headers: {} };
  const res = {
    statusCode: 200,
    setHeader(k, v) {
      headers[k.toLowerCase()] = String(v);
      names[k.toLowerCase()] = k;
    },
    getHeader(k) {
      return headers[k.toLowerCase()];
    },
    end() {
      result.answered = true;
      result.status = this.statusCode;
    },
  };
  cors(npmOptions(c.options))(req, res, () => {
    result.next = true;
  });
  for (const k of Object.keys(headers)) result.headers[names[k]] = headers[k];
  return result;
}

const cases = JSON.parse(require("fs").readFileSync(process.env.CASES_FILE, "utf8"));
process.stdout.write(JSON.stringify(cases.map(run)));
