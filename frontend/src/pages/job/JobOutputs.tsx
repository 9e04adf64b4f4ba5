// A job's stdout, stderr and traceback: monospace blocks, each saying when
// only its tail is kept, with a Copy button.
import { useId, useRef, useState } from 'react';
import type { RefObject } from 'react';
import { OUTPUT_TAIL } from '../../core/protocol';
import type { JobDetail } from '../../core/protocol';

const count = (n: number) => n.toLocaleString('en-US');

type CopyState = 'idle' | 'copied' | 'selected';

/**
 * Copies a block's text. navigator.clipboard exists only in a secure context
 * (https, or http on localhost): a dashboard served over plain http on a LAN
 * gets the text selected instead, and a visible hint to press the copy keys.
 */
function CopyButton({ label, target, text }: { label: string; target: RefObject<HTMLPreElement | null>; text: string }) {
  const [state, setState] = useState<CopyState>('idle');
  const select = () => {
    const pre = target.current;
    const selection = window.getSelection();
    if (pre && selection) {
      selection.selectAllChildren(pre);
      pre.focus();
    }
    setState('selected');
  };
  const copy = async () => {
    if (!window.isSecureContext || !navigator.clipboard) {
      select();
      return;
    }
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      select(); // refused (permissions, focus): the keys still work
    }
  };
  return (
    <>
      <button type="button" aria-label={`Copy ${label}`} onClick={() => void copy()}>
        Copy
      </button>
      <span className="copy-state" role="status">
        {state === 'copied' && 'Copied'}
        {state === 'selected' && 'Selected: press Ctrl+C (⌘C on a Mac) to copy. The browser gives pages the clipboard only over https or on localhost.'}
      </span>
    </>
  );
}

interface OutputProps {
  /** "stdout", "stderr", "Traceback" */
  label: string;
  text: string | null;
  /** the full length (bytes; characters for a traceback) */
  length: number;
  cut: boolean;
  /** what to say when there is no text */
  empty: string;
}

function Output({ label, text, length, cut, empty }: OutputProps) {
  const headingId = useId();
  const pre = useRef<HTMLPreElement>(null);
  return (
    <section className="job-output" aria-labelledby={headingId}>
      <div className="section-head">
        <h3 id={headingId}>{label}</h3>
        {text !== null && text !== '' && <CopyButton label={label} target={pre} text={text} />}
      </div>
      {text === null || text === '' ? (
        <p className="muted">{empty}</p>
      ) : (
        <>
          {cut && (
            <p className="muted job-output-cut">
              last {OUTPUT_TAIL / 1024} KiB of {count(length)} {label === 'Traceback' ? 'characters' : 'bytes'}
            </p>
          )}
          <pre ref={pre} className="job-pre" tabIndex={0} aria-labelledby={headingId}>
            {text}
          </pre>
        </>
      )}
    </section>
  );
}

export function JobOutputs({ job }: { job: JobDetail }) {
  const ended = job.state !== 'queued' && job.state !== 'running';
  // dispy sends outputs with the result, when the job ends
  const nothing = ended ? 'Nothing' : 'Arrives when the job ends';
  const traceback = job.traceback;
  return (
    <>
      <Output label="stdout" text={job.stdout} length={job.stdout_len} cut={job.stdout_cut} empty={ended ? 'Nothing printed' : nothing} />
      <Output label="stderr" text={job.stderr} length={job.stderr_len} cut={job.stderr_cut} empty={ended ? 'Nothing printed' : nothing} />
      {(traceback !== null || job.state === 'failed') && (
        <Output
          label="Traceback"
          text={traceback}
          length={job.traceback_len}
          cut={traceback !== null && job.traceback_len > traceback.length}
          empty="No traceback kept"
        />
      )}
    </>
  );
}
