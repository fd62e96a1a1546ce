using OperationsHub.Bench;

// Benchmarks print their numbers; they never assert timings. See BENCHMARKS.md at the repository root for results.
return args.FirstOrDefault() switch
{
    "throughput" => await OperationsHub.Bench.Throughput.ThroughputBenchmark.RunAsync(args),
    "throughput-pg" => await OperationsHub.Bench.Throughput.PostgreSqlThroughputBenchmark.RunAsync(args),
    "throughput-farm" => await OperationsHub.Bench.Farm.FarmThroughputBenchmark.RunAsync(args),
    "farm-node" => await OperationsHub.Bench.Farm.FarmThroughputBenchmark.NodeAsync(args),
    "grid" => await GridBenchmark.RunAsync(args),
    "grid-pg" => await GridBenchmark.RunAsync(args, postgres: true),
    "push" => await OperationsHub.Bench.Live.PushBenchmark.RunAsync(args),
    "push-pg" => await OperationsHub.Bench.Live.PushBenchmark.RunAsync(args, acrossNodes: true),
    "circuits" => await OperationsHub.Bench.Live.CircuitMemoryBenchmark.RunAsync(args),
    "recovery-pg" => await OperationsHub.Bench.Farm.RecoveryBenchmark.RunAsync(args),
    "log" => await LogBenchmark.RunAsync(args),
    _ => Usage(),
};

static int Usage()
{
    Console.WriteLine("""
        usage: dotnet run -c Release --project bench/OperationsHub.Bench -- <benchmark> [options]
          throughput [count] [--only name,name]
          throughput-pg [count] [--only name,name]   (server: OPSHUB_BENCH_POSTGRES, a connection string)
                                   N no-op runs (default 10000) through OperationsHub, Hangfire (default, tuned),
                                   Quartz's ADO job store (default, tuned) and a raw SQLite floor
          throughput-farm [count] [--only name,name]
                                   N no-op runs through 1 and 2 hub worker processes on one PostgreSQL, against Quartz
                                   clustered (2 nodes) and Hangfire.PostgreSql (2 servers), each node a process
          push [changes] [pages...]
                                   commit-to-DOM latency of run completions on Chromium pages (default 500; 1 and 100 pages)
          push-pg [changes] [pages...]
                                   the same across nodes on PostgreSQL: committed on node A, pages on node B
          circuits [pages] [minutes] [operations|run|dashboard]
                                   server memory per open runs-page circuit, and its growth under updates (default 100, 10)
          recovery-pg [rounds]     kill -9 the node holding a run, two hub processes on PostgreSQL: seconds until the
                                   run is requeued and running on the other node, median and worst (default 10 rounds)
          log [lines]              one run writing N log lines (default 100000): handler cost, commits, time, lines kept;
                                   beside a bound raised to N and one commit per line
          grid [rows] [--keep]     the runs grid's queries on a generated tenant of N runs (default 1000000)
          grid-pg [rows] [--keep]  the same on PostgreSQL (server: OPSHUB_BENCH_POSTGRES; database opshub_grid_N)
        """);
    return 2;
}
