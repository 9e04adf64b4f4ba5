import { useEffect } from 'react';
import { ClusterSelect } from '../../components/ClusterSelect';
import { JobsChart } from '../../components/JobsChart';
import { JobsSummary } from './JobsSummary';
import { NodesTable } from './NodesTable';
import { ShowJobArgs } from './ShowJobArgs';
import { UpdateControls } from '../../components/UpdateControls';

export function MonitorPage() {
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
      </div>
      <JobsSummary />
      <JobsChart />
      <NodesTable />
    </>
  );
}
