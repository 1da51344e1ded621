/**
 * Ctrl-C and SIGTERM for a training run: the first one asks the run to stop after the current
 * step (it then writes a checkpoint, the summary and the plots so far, and the CLI exits with
 * 130 for SIGINT, 143 for SIGTERM); a second one exits at once. Every file in the run
 * directory is replaced atomically, so exiting at any moment leaves the last good checkpoint.
 */

export interface StopSignals {
  /** Aborted by the first signal. */
  signal: AbortSignal;
  /** 128 + the signal's number once one arrived (130 SIGINT, 143 SIGTERM), else 0. */
  readonly exitCode: number;
  /** Removes the listeners. */
  dispose(): void;
}

const CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export function listenForStop(notify: (line: string) => void): StopSignals {
  const controller = new AbortController();
  let exitCode = 0;
  const listeners: [Deno.Signal, () => void][] = [];
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    const listener = () => {
      if (controller.signal.aborted) {
        notify(`${name} again: quitting now; the last checkpoint written is kept`);
        Deno.exit(CODES[name]);
      }
      exitCode = CODES[name];
      notify(
        `${name}: stopping after the current step (writing a checkpoint and the outputs so far); ` +
          "press Ctrl-C again to quit at once",
      );
      controller.abort(name);
    };
    try {
      Deno.addSignalListener(name, listener);
      listeners.push([name, listener]);
    } catch {
      // SIGTERM cannot be listened to on Windows; Ctrl-C still works there.
    }
  }
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose() {
      for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
    },
  };
}
