// Parses LogQL queries with Grafana's own LogQL grammar (@grafana/lezer-logql, the parser
// of Grafana's Loki query editor). Reads a JSON array of {where, expr} on stdin; prints each
// query that does not parse, with the position of the first error; exits 1 if any.
// The grammar module's path comes from LEZER_LOGQL_MODULE (an npm install under .tools/).
const { parser } = await import(process.env.LEZER_LOGQL_MODULE);

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
}));

let failures = 0;
for (const { where, expr } of input) {
  const tree = parser.parse(expr);
  let error = null;
  tree.iterate({
    enter(node) {
      if (error === null && node.type.isError) error = node.from;
    },
  });
  if (error !== null) {
    failures += 1;
    console.error(`FAIL ${where}: LogQL does not parse at ${error}: ${expr}`);
  } else {
    console.log(`ok   ${where}`);
  }
}
process.exit(failures ? 1 : 0);
