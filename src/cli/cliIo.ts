// Where a command writes and which settings it reads: the process's by default, captured streams in tests.

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}
