// Prints one plain line `N passed, N failed` (and skipped) at the end of a run, for CI and humans.
// Jest's own summary is printed after every reporter's onRunComplete, so the line is written when the process
// exits: it is then the last line of the output, whichever reporters run before it.
class CountReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `\n${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`;
    // Writes to files, pipes and terminals are synchronous on Linux and macOS, so an 'exit' listener may write.
    process.once('exit', () => process.stdout.write(line));
  }
}
module.exports = CountReporter;
