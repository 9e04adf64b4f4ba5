import { useId } from 'react';
import { useDashboard } from '../core/context';
import { COMBINED } from '../core/protocol';
import { useClusterChoice } from '../core/selectors';

/** Cluster chooser; with a single cluster there is nothing to choose, so only its name shows. */
export function ClusterSelect() {
  const id = useId();
  const { names, name: value } = useClusterChoice();
  const selectCluster = useDashboard((s) => s.selectCluster);

  if (names.length === 0) return null;
  if (names.length === 1) {
    return (
      <p className="cluster-name">
        Cluster <strong>{names[0]}</strong>
      </p>
    );
  }
  return (
    <div className="field">
      <label htmlFor={id}>Cluster</label>
      <select id={id} value={value ?? COMBINED} onChange={(e) => selectCluster(e.target.value)}>
        <option value={COMBINED}>{COMBINED}</option>
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </div>
  );
}
