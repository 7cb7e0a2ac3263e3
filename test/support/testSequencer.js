// Jest's own order (failed first, then longest by the cache, else largest file), with the tests that mostly wait
// started first: on a clean clone there is no cache, and a two-minute test that sits idle through storage outages
// would otherwise start half-way through the run and finish long after everything else.
const Sequencer = require('@jest/test-sequencer').default;

/** Test files that spend most of their time waiting (simulated outages, lease expiry), not computing. */
const MOSTLY_WAITING = ['pipelineFaults.test.ts'];

class WaitingFirstSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    const waits = (test) => MOSTLY_WAITING.some((name) => test.path.endsWith(name));
    return [...sorted.filter(waits), ...sorted.filter((test) => !waits(test))];
  }
}

module.exports = WaitingFirstSequencer;
