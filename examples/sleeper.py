# The example of dispy's httpd documentation ("Monitor and Manage Cluster"):
# 8 jobs that sleep 15-20 s, watched in a browser at http://<host>:8181/.
# Changed from the documentation: the import line (dispymon's dashboard
# instead of dispy.httpd) and, through these environment variables, where the
# nodes are and where the dashboard listens (unset: the documentation's
# defaults):
#
#   DISPYMON_NODES       comma-separated node addresses (unset: dispy discovers nodes, as in the seed)
#   DISPYMON_DISPY_HOST  this computer's address for dispy (unset: dispy's choice)
#   DISPYMON_DISPY_PORT  dispy's port base (unset: 9700)
#   DISPYMON_HTTP_HOST   the dashboard's address (unset: '' = every interface)
#   DISPYMON_HTTP_PORT   the dashboard's port (unset: 8181)

# (sample) computation to execute on the nodes
def compute(n):
    import time, socket
    time.sleep(n)
    host = socket.gethostname()
    return (host, n)

if __name__ == '__main__':
    import dispy, random
    import os

    # dispymon: where the nodes are, if not where dispy finds them by itself
    env = os.environ.get
    where = {}
    if env('DISPYMON_NODES'):
        where['nodes'] = env('DISPYMON_NODES').split(',')
    if env('DISPYMON_DISPY_HOST'):
        where['host'] = env('DISPYMON_DISPY_HOST')
    if env('DISPYMON_DISPY_PORT'):
        where['dispy_port'] = int(env('DISPYMON_DISPY_PORT'))

    # create cluster
    cluster = dispy.JobCluster(compute, **where)

    # import dispymon's httpd module, create http server
    from dispymon.httpd import DispyHTTPServer
    http_server = DispyHTTPServer(cluster, host=env('DISPYMON_HTTP_HOST', ''),
                                  port=int(env('DISPYMON_HTTP_PORT', 8181)))

    # cluster can now be monitored / managed in web browser at
    # http://<host>:8181 where <host> is name or IP address of
    # computer running this program

    for i in range(8): # submit jobs to cluster
        cluster.submit(random.randint(15, 20))

    cluster.wait() # wait for all jobs to finish
    cluster.close()
    http_server.shutdown() # this waits until browser gets all updates
