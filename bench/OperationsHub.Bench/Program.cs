using OperationsHub.Bench;

// Benchmarks print their numbers; they never assert timings. See BENCHMARKS.md at the repository root for results.
return args.FirstOrDefault() switch
{
    "drain" => await DrainBenchmark.RunAsync(args),
    "grid" => await GridBenchmark.RunAsync(args),
    _ => Usage(),
};

static int Usage()
{
    Console.WriteLine("""
        usage: dotnet run -c Release --project bench/OperationsHub.Bench -- <benchmark> [options]
          drain [count]            N no-op runs end to end through the engine on SQLite (default 5000)
          grid [rows] [--keep]     the runs grid's queries on a generated tenant of N runs (default 1000000)
        """);
    return 2;
}
