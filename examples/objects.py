# The example of dispy's httpd documentation (4.15, "5.2. Example"): objects
# of a local class as job arguments, shown with their __str__ on the
# dashboard's Node page. Changed from the documentation: the import line
# (dispymon's dashboard instead of dispy.httpd); where the nodes are and where
# the dashboard listens, through environment variables (see sleeper.py; unset:
# the documentation's defaults); and compute() sleeps n/4 seconds -- the
# documentation's version returns at once, so no job would ever be seen
# running on the Node page.

# example program that sends object instances in local program
# as arguments to distributed computation
class C(object):
    def __init__(self, s, i):
        self.s = s
        self.i = i
    # provide __str__ so instances of C are shown with useful info
    # when monitoring jobs in 'Node' page
    def __str__(self):
        return 'C(%s, %.4f)' % (self.s, self.i)

def compute(obj, n=5):
    # obj is an instance of C
    import time
    time.sleep(n / 4.0)  # dispymon: 1.25-5 s, long enough to watch the jobs run
    return n * obj.i

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
    cluster = dispy.JobCluster(compute, depends=[C], **where)

    # import dispymon's httpd module, create http server for this cluster
    from dispymon.httpd import DispyHTTPServer
    http_server = DispyHTTPServer(cluster, host=env('DISPYMON_HTTP_HOST', ''),
                                  port=int(env('DISPYMON_HTTP_PORT', 8181)))

    # cluster can now be monitored / managed in web browser at
    # http://<host>:8181 where <host> is name or IP address of
    # computer running this program

    for i in range(8): # submit jobs to cluster
        c = C(str(i), random.uniform(1, 9))
        job = cluster.submit(c, n=random.randint(5, 20))
        job.id = i

    cluster.wait() # wait for all jobs to finish
    http_server.shutdown() # this waits until browser gets all updates
