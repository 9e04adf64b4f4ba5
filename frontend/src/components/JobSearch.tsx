// The header's job search (in the first page's bundle, so kept tiny): a job
// id opens that job's page in the chosen cluster; under '* Combined' (an id
// names no cluster) the Jobs view lists the matches.
import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { COMBINED } from '../core/protocol';
import { useClusterChoice } from '../core/selectors';
import { jobPath, jobsPath } from '../lib/paths';
import { navigate } from '../router';

export function JobSearch() {
  const id = useId();
  const [text, setText] = useState('');
  const { name } = useClusterChoice();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const wanted = text.trim();
    if (!wanted) return;
    navigate(name === null || name === COMBINED ? jobsPath({ text: wanted }) : jobPath(name, wanted));
    setText('');
  };
  return (
    <form role="search" className="job-search" onSubmit={submit}>
      <label htmlFor={id} className="visually-hidden">
        Find a job by ID
      </label>
      <input id={id} type="search" placeholder="Job ID" autoComplete="off" spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} />
    </form>
  );
}
