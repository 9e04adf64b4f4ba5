import { useEffect } from 'react';
import { ClusterSelect } from '../../components/ClusterSelect';
import { ExportButton } from '../../components/ExportButton';
import { clusterArg, useClusterChoice } from '../../core/selectors';
import { JobsChart } from '../../components/JobsChart';
import { JobsSummary } from './JobsSummary';
import { NodesTable } from './NodesTable';
import { ShowJobArgs } from './ShowJobArgs';
import { UpdateControls } from '../../components/UpdateControls';

export function MonitorPage() {
  const { name } = useClusterChoice();
  useEffect(() => {
    document.title = 'Monitor · dispymon';
  }, []);
  return (
    <>
      <h2>Monitor</h2>
      <div className="toolbar">
        <ClusterSelect />
        <UpdateControls />
        <ShowJobArgs />
        <ExportButton kind="nodes" params={new URLSearchParams(clusterArg(name))} />
      </div>
      <JobsSummary />
      <JobsChart />
      <NodesTable />
    </>
  );
}
