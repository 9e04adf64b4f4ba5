// Runs commands from components: tracks which are pending (to disable their
// buttons) and turns every failure into a message a person can read.
import { useCallback, useState } from 'react';
import { useSocket } from './context';
import type { CommandArgs, CommandName, CommandValue } from './protocol';

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/** The text to show for a failed command (server error, timeout, lost connection). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  return String(err);
}

/**
 * `run(key, name, args)` sends a command and resolves with its outcome (it
 * never rejects); `isPending(key)` is true meanwhile. Keys let one page run
 * commands for several targets at once (e.g. one per node row).
 */
export function useCommands() {
  const socket = useSocket();
  const [pending, setPending] = useState<ReadonlySet<string>>(() => new Set());

  const run = useCallback(
    async <N extends CommandName>(key: string, name: N, args: CommandArgs<N>): Promise<Outcome<CommandValue<N>>> => {
      setPending((p) => new Set(p).add(key));
      try {
        // The server sends the commander what changed right after an action's
        // result (as if it had pressed Update): no flush of its own here.
        const value = await socket.command(name, args);
        return { ok: true, value };
      } catch (err) {
        return { ok: false, message: errorMessage(err) };
      } finally {
        setPending((p) => {
          const next = new Set(p);
          next.delete(key);
          return next;
        });
      }
    },
    [socket],
  );

  const isPending = useCallback((key: string) => pending.has(key), [pending]);
  return { run, isPending };
}
