using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// Drains N no-op items through OperationsHub and its peers on SQLite, one after another in this process, on fresh
/// database files in one folder, and prints runs/s, commits per run and OperationsHub's ratio to each.
/// </summary>
internal static class ThroughputBenchmark
{
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(3);

    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out var n) ? n : 10_000;
        var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault()?.Split(',');
        CommitCounter.Install();

        var contestants = new List<Func<Contestant>>
        {
            () => new HubContestant(),
            () => new HangfireContestant(tuned: false),
            () => new HangfireContestant(tuned: true),
            () => new QuartzAdoContestant(tuned: false),
            () => new QuartzAdoContestant(tuned: true),
            () => new RawFloorContestant(),
        };

        PrintMachine(count);
        var results = new List<Result>();
        foreach (var create in contestants)
        {
            var contestant = create();
            if (only is not null && !only.Any(o => contestant.Name.Contains(o, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "throughput-data", Guid.NewGuid().ToString("N")));
            try
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await contestant.PrepareAsync(folder.FullName);
                contestant.Deadline = DateTime.UtcNow + Cap;
                var commitsBefore = CommitCounter.Commits;
                var stopwatch = Stopwatch.StartNew();
                var completed = await contestant.DrainAsync(count);
                stopwatch.Stop();
                var commits = CommitCounter.Commits - commitsBefore;
                var result = new Result(contestant.Name, contestant.Settings, count, completed, stopwatch.Elapsed, commits);
                results.Add(result);
                Console.WriteLine($"  {result.Name}: {result.Completed:N0} of {count:N0} in {result.Elapsed.TotalSeconds:F2} s");
            }
            finally
            {
                await contestant.DisposeAsync();
                SqliteConnection.ClearAllPools();
                TryDelete(folder);
            }
        }

        PrintTable(results);
        return results.All(r => r.Completed == r.Submitted) ? 0 : 1;
    }

    private static void PrintMachine(int count)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var version = connection.CreateCommand();
        version.CommandText = "SELECT sqlite_version()";
        Console.WriteLine($"Throughput: {count:N0} no-op items per contestant, {Environment.ProcessorCount} cores, "
            + $"{RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}, SQLite {version.ExecuteScalar()}, "
            + $"{(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC; files on the same disk as the repository.");
    }

    private static void PrintTable(List<Result> results)
    {
        var hub = results.FirstOrDefault(r => r.Name == "OperationsHub");
        Console.WriteLine();
        Console.WriteLine("| contestant | completed | seconds | runs/s | commits/run | OperationsHub is |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            var ratio = hub is null || r == hub ? "-"
                : r.RunsPerSecond > 0 ? $"{hub.RunsPerSecond / r.RunsPerSecond:F1}x" : "n/a";
            var capped = r.Completed < r.Submitted ? " (stopped at the cap)" : "";
            Console.WriteLine(FormattableString.Invariant(
                $"| {r.Name} | {r.Completed:N0}{capped} | {r.Elapsed.TotalSeconds:F2} | {r.RunsPerSecond:N0} | {r.CommitsPerRun:F2} | {ratio} |"));
        }

        Console.WriteLine();
        foreach (var r in results)
        {
            Console.WriteLine($"- {r.Name}: {r.Settings}");
        }

        Console.WriteLine("- commits/run: transactions committed by any SQLite connection in the process during the drain "
            + "(a commit hook on every connection), divided by the items completed.");
    }

    private static void TryDelete(DirectoryInfo folder)
    {
        try
        {
            folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A peer may still hold its file for a moment after stopping; the next run's folder is a fresh one.
        }
    }

    private sealed record Result(string Name, string Settings, int Submitted, int Completed, TimeSpan Elapsed, long Commits)
    {
        public double RunsPerSecond => Completed / Elapsed.TotalSeconds;

        public double CommitsPerRun => Completed == 0 ? 0 : (double)Commits / Completed;
    }
}
