// Summarise http-tests/cache-tests results the way the suite classifies them
// (test-engine/lib/results.mjs determineTestResult, dependencies honoured).
//
//   node summary.mjs SUITE_DIR RESULTS.json [--list] [--compare]
//
// --list     prints every test that did not pass, grouped by the suite's sections
// --compare  also summarises the suite's published results/*.json for reverse proxies and
//            CDNs over the same set of tests
import { pathToFileURL } from 'node:url'
import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'

const [suiteDir, resultsFile, ...flags] = process.argv.slice(2)
if (!suiteDir || !resultsFile) {
  console.error('usage: node summary.mjs SUITE_DIR RESULTS.json [--list] [--compare]')
  process.exit(2)
}
const imp = p => import(pathToFileURL(path.resolve(suiteDir, p)).href)
const suites = (await imp('tests/index.mjs')).default
const { determineTestResult, resultTypes } = await imp('test-engine/lib/results.mjs')

// The tests the CLI runs against a reverse proxy (runner.mjs: browser_only are skipped).
const tests = []
for (const s of suites) {
  for (const t of s.tests) {
    if (t.browser_only === true) continue
    tests.push({ suite: s.name, test: t })
  }
}

const names = new Map(Object.entries(resultTypes).map(([k, v]) => [v, k]))
function classify (results) {
  const counts = {}
  const byId = {}
  for (const { test } of tests) {
    const r = determineTestResult(suites, test.id, results)
    const raw = determineTestResult(suites, test.id, results, false)
    const cls = names.get(r)
    byId[test.id] = { cls, raw: names.get(raw) }
    counts[cls] = (counts[cls] || 0) + 1
  }
  return { counts, byId }
}

function line (label, results) {
  const { counts, byId } = classify(results)
  const tested = tests.length - (counts.untested || 0)
  const passed = (counts.pass || 0) + (counts.yes || 0)
  // "required" failures: kind required (or unset) and the test's own result is a
  // failure, whether or not a dependency also failed.
  const reqRaw = tests.filter(({ test }) => byId[test.id].raw === 'fail').length
  const pct = tested ? (100 * passed / tested).toFixed(1) : '0.0'
  return { label, tested, passed, pct, counts, reqRaw }
}

function printRow (r) {
  const c = r.counts
  console.log([
    r.label.padEnd(14), String(r.tested).padStart(6), String(r.passed).padStart(6), (r.pct + '%').padStart(7),
    String(c.fail || 0).padStart(6), String(r.reqRaw).padStart(7), String(c.optional_fail || 0).padStart(6),
    String(c.no || 0).padStart(5), String(c.dependency_fail || 0).padStart(5),
    String((c.setup_fail || 0) + (c.harness_fail || 0) + (c.retry || 0)).padStart(6)
  ].join(' '))
}

const ours = JSON.parse(readFileSync(resultsFile, 'utf8'))
console.log(`tests the CLI runs: ${tests.length}`)
console.log('passed = pass + check "yes"; fail = required failed; req-raw = required failed ignoring dependencies;')
console.log('optfail = optimal not met; no = check answered "no"; dep = a dependency failed; setup = setup/harness/retry')
console.log(['cache'.padEnd(14), 'tested'.padStart(6), 'passed'.padStart(6), 'pass%'.padStart(7), 'fail'.padStart(6),
  'req-raw'.padStart(7), 'optfail'.padStart(6), 'no'.padStart(5), 'dep'.padStart(5), 'setup'.padStart(6)].join(' '))
printRow(line('meridian', ours))

if (flags.includes('--compare')) {
  const index = (await imp('results/index.mjs')).default
  for (const item of index) {
    if (item.type === 'browser') continue
    const f = path.join(suiteDir, 'results', item.file)
    if (!existsSync(f)) continue
    printRow(line(item.name, JSON.parse(readFileSync(f, 'utf8'))))
  }
}

if (flags.includes('--list')) {
  const { byId } = classify(ours)
  let current = ''
  for (const { suite, test } of tests) {
    const { cls, raw } = byId[test.id]
    if (cls === 'pass' || cls === 'yes') continue
    if (suite !== current) {
      console.log(`\n## ${suite}`)
      current = suite
    }
    const r = ours[test.id]
    const msg = Array.isArray(r) ? `${r[0]}: ${r[1]}` : String(r)
    const dep = cls === 'dependency_fail' ? ` (dependency failed: ${test.depends_on.join(', ')}; own result ${raw})` : ''
    console.log(`- ${test.id} [${test.kind || 'required'}] ${cls}${dep}\n    ${test.name}\n    -> ${msg}`)
  }
}
