using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OperationsHub.Bench.Throughput;
using Quartz;

namespace OperationsHub.Bench.Farm;

/// <summary>
/// Throughput of several worker nodes on one PostgreSQL database. Each node is an operating-system process of its own
/// (this benchmark's executable in <c>farm-node</c> mode) that only works; this process only submits, through the
/// system's own client (the hub's start service on a node without a worker, Quartz's scheduler in standby, Hangfire's
/// client), from four producers, and watches the store until every item is done. Every system is clustered on the
/// database it would be in production: the hub claims from <c>operation_runs</c> and wakes over LISTEN/NOTIFY; Quartz's
/// ADO job store with clustering; Hangfire.PostgreSql with a BackgroundJobServer per node. All processes share this
/// machine's cores with the server.
/// </summary>
internal static class FarmThroughputBenchmark
{
    /// <summary>
    /// <c>throughput-farm [count] [--only ...] [--backlog]</c>. With <c>--backlog</c> the items are queued while every
    /// node holds its workers back (not measured), and the measurement is the nodes working off that backlog: the
    /// workers' throughput alone, without the starts' latency in the way.
    /// </summary>
    public static Task<int> RunAsync(string[] args)
    {
        var (count, only) = PostgreSqlThroughputBenchmark.CountAndOnly(args);
        var server = PostgreSqlThroughputBenchmark.Server;
        var backlog = args.Contains("--backlog");
        var contestants = new List<Func<Contestant>>();
        if (!backlog)
        {
            contestants.Add(() => new HubContestant(server));
        }

        contestants.AddRange(
        [
            () => new HubFarmContestant(server, nodes: 1, backlog),
            () => new HubFarmContestant(server, nodes: 2, backlog),
            () => new QuartzFarmContestant(server, nodes: 2, backlog),
            () => new HangfireFarmContestant(server, nodes: 2, backlog),
        ]);
        return PostgreSqlThroughputBenchmark.MeasureAsync(server, count, only, contestants,
            backlog ? "Backlog drain across nodes" : "Throughput across nodes",
            HubFarmContestant.NameFor(2), "each contestant in a fresh database, each worker node a process of its own"
                + (backlog ? "; every item queued before the nodes' workers are released" : ""), backlog);
    }

    /// <summary>
    /// <c>farm-node hub|quartz|hangfire connection-string [--hold]</c>: one worker node, until it is killed. With
    /// <c>--hold</c> it is built and reports ready, but starts working only when a line arrives on its input.
    /// </summary>
    public static async Task<int> NodeAsync(string[] args)
    {
        var (kind, connectionString) = (args[1], args[2]);
        var hold = args.Contains("--hold");
        using IHost host = kind switch
        {
            "hub" => HubContestant.BuildHost("PostgreSql", connectionString, worker: true),
            "quartz" => QuartzFarmContestant.BuildHost(connectionString, node: true),
            "hangfire" => HangfireFarmContestant.BuildHost(connectionString),
            _ => throw new ArgumentException($"No node kind '{kind}'."),
        };
        if (hold)
        {
            Console.WriteLine(NodeProcess.Ready);
            await Console.In.ReadLineAsync();
            await host.StartAsync();
        }
        else
        {
            await host.StartAsync();
            Console.WriteLine(NodeProcess.Ready);
        }

        await host.WaitForShutdownAsync();
        return 0;
    }
}

/// <summary>One <c>farm-node</c> process; disposing kills it.</summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    public const string Ready = "farm-node ready";
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeProcess(string kind, string connectionString, bool hold)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var argument in new[] { typeof(NodeProcess).Assembly.Location, "farm-node", kind, connectionString })
        {
            start.ArgumentList.Add(argument);
        }

        if (hold)
        {
            start.ArgumentList.Add("--hold");
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <param name="hold">Built and ready, but working only after <see cref="ReleaseAsync"/>.</param>
    public static async Task<List<NodeProcess>> StartAsync(string kind, string connectionString, int nodes, bool hold = false)
    {
        var started = Enumerable.Range(0, nodes).Select(_ => new NodeProcess(kind, connectionString, hold)).ToList();
        foreach (var node in started)
        {
            var ready = await Task.WhenAny(node._ready.Task, Task.Delay(TimeSpan.FromSeconds(60)), node._process.WaitForExitAsync());
            if (ready != node._ready.Task)
            {
                throw new InvalidOperationException($"A {kind} node did not start:\n{node._output}");
            }
        }

        return started;
    }

    /// <summary>Lets a node started with <c>hold</c> start working.</summary>
    public async Task ReleaseAsync()
    {
        await _process.StandardInput.WriteLineAsync("go");
        await _process.StandardInput.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (line == Ready)
        {
            _ready.TrySetResult();
        }
    }
}

/// <summary>A contestant's fresh database and its worker-node processes; disposing kills the nodes, then drops it.</summary>
internal sealed class FarmDatabase(string server) : IAsyncDisposable
{
    private List<NodeProcess> _nodes = [];

    public string ConnectionString { get; private set; } = "";

    public string Database => new NpgsqlConnectionStringBuilder(ConnectionString).Database!;

    public async Task CreateAsync(string prefix) => ConnectionString = await PostgreSqlThroughputBenchmark.CreateDatabaseAsync(server, prefix);

    public async Task StartNodesAsync(string kind, int nodes, bool hold) => _nodes = await NodeProcess.StartAsync(kind, ConnectionString, nodes, hold);

    /// <summary>Whether the items were queued with the nodes held back (the drain then releases them).</summary>
    public bool BacklogQueued { get; set; }

    /// <summary>Releases held nodes, all at once, if a backlog was queued for them.</summary>
    public async Task ReleaseIfHeldAsync()
    {
        if (BacklogQueued)
        {
            await Task.WhenAll(_nodes.Select(n => n.ReleaseAsync()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        if (ConnectionString.Length > 0)
        {
            await PostgreSqlThroughputBenchmark.DropAsync(server, Database);
        }
    }
}

/// <summary>The hub: this process starts runs through a node without a worker; N worker-node processes claim them.</summary>
internal sealed class HubFarmContestant(string server, int nodes, bool backlog = false) : Contestant, IPostgreSqlContestant
{
    private readonly FarmDatabase _farm = new(server);
    private IHost? _starter;
    private long _tenantId;
    private long _userId;

    public static string NameFor(int nodes) => $"OperationsHub, {nodes} worker node{(nodes == 1 ? "" : "s")}";

    public override string Name => NameFor(nodes);

    public override string Settings =>
        $"product defaults per node (Worker:MaxConcurrency {HubConcurrency}, Database:WriterConnections 4); {nodes} worker process(es) "
        + "claiming with FOR UPDATE SKIP LOCKED, woken by LISTEN/NOTIFY; runs started with an initiator (events and notifications written)";

    public string Database => _farm.Database;

    public override async Task PrepareAsync(string directory)
    {
        await _farm.CreateAsync("opshub_farm");
        _starter = HubContestant.BuildHost("PostgreSql", _farm.ConnectionString, worker: false);
        (_tenantId, _userId) = await HubContestant.MigrateAndSeedAsync(_starter);
        await _starter.StartAsync();
        await _farm.StartNodesAsync("hub", nodes, hold: backlog);
    }

    public override async Task QueueBacklogAsync(int count)
    {
        await HubContestant.StartRunsAsync([_starter!], _tenantId, _userId, count);
        _farm.BacklogQueued = true;
    }

    public override async Task<int> DrainAsync(int count)
    {
        if (!_farm.BacklogQueued)
        {
            return await HubContestant.DrainAsync(this, [_starter!], _tenantId, _userId, count, new NpgsqlConnection(_farm.ConnectionString));
        }

        await _farm.ReleaseIfHeldAsync();
        return await HubContestant.WaitCompletedAsync(this, count, new NpgsqlConnection(_farm.ConnectionString));
    }

    public override async ValueTask DisposeAsync()
    {
        if (_starter is not null)
        {
            await _starter.StopAsync();
            _starter.Dispose();
        }

        await _farm.DisposeAsync();
    }
}

/// <summary>
/// Quartz.NET 4.7.3, ADO job store on PostgreSQL with clustering, tuned as on one node (32 threads, MaxBatchSize 32):
/// this process schedules through a scheduler it never starts (standby: it writes to the store, fires nothing).
/// </summary>
internal sealed class QuartzFarmContestant(string server, int nodes, bool backlog = false) : Contestant, IPostgreSqlContestant
{
    private readonly FarmDatabase _farm = new(server);
    private IHost? _client;

    public override string Name => $"Quartz ADO clustered, {nodes} nodes";

    public override string Settings =>
        $"Quartz 4.7.3 ADO job store on PostgreSQL, clustered (an instance id per node), {HubConcurrency} threads and MaxBatchSize {HubConcurrency} per node; "
        + "done when the store holds no trigger, fired trigger or job";

    public string Database => _farm.Database;

    internal static IHost BuildHost(string connectionString, bool node)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddQuartz(q =>
        {
            // One scheduler name for the cluster; UseClustering gives each node an instance id of its own.
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = "bench";
                s.MaxBatchSize = HubConcurrency;
            });
            q.UseDefaultThreadPool(tp => tp.MaxConcurrency = HubConcurrency);
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                store.UseSystemTextJsonSerializer();
                store.UseClustering();
                if (!node)
                {
                    store.ProvisionSchema();
                }
            });
        });
        if (node)
        {
            builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        }

        return builder.Build();
    }

    public override async Task PrepareAsync(string directory)
    {
        await _farm.CreateAsync("quartz_farm");
        _client = BuildHost(_farm.ConnectionString, node: false);
        await _client.StartAsync();
        // The scheduler is made (and the schema provisioned) on first use; before the nodes start, so they find it.
        await _client.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        await _farm.StartNodesAsync("quartz", nodes, hold: backlog);
    }

    public override async Task QueueBacklogAsync(int count)
    {
        await ScheduleAsync(count);
        _farm.BacklogQueued = true;
    }

    private async Task ScheduleAsync(int count)
    {
        var scheduler = await _client!.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Producers }, async (i, ct) =>
        {
            var name = i.ToString(CultureInfo.InvariantCulture);
            var job = JobBuilder.Create<NoopQuartzJob>().WithIdentity(name, "bench").Build();
            var trigger = TriggerBuilder.Create().WithIdentity(name, "bench").StartNow().Build();
            await scheduler.ScheduleJob(job, trigger, default(ScheduleJobOptions), ct);
        });
    }

    public override async Task<int> DrainAsync(int count)
    {
        if (_farm.BacklogQueued)
        {
            await _farm.ReleaseIfHeldAsync();
        }
        else
        {
            await ScheduleAsync(count);
        }

        await using var connection = new NpgsqlConnection(_farm.ConnectionString);
        await connection.OpenAsync();
        await using var left = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM qrtz_triggers) + (SELECT count(*) FROM qrtz_fired_triggers) + (SELECT count(*) FROM qrtz_job_details)", connection);
        long remaining = count;
        await WaitUntilAsync(async () => (remaining = Convert.ToInt64(await left.ExecuteScalarAsync(), CultureInfo.InvariantCulture)) == 0);
        // A job leaves the store when its one trigger has fired and the job has run (it is not durable).
        return (int)Math.Max(0, count - remaining);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
        }

        await _farm.DisposeAsync();
    }
}

/// <summary>
/// Hangfire 1.8 on Hangfire.PostgreSql 1.21, tuned as on one node (8 workers, 50 ms queue poll) with one
/// BackgroundJobServer per node process; this process enqueues through the client and runs no server itself.
/// </summary>
internal sealed class HangfireFarmContestant(string server, int nodes, bool backlog = false) : HangfireDrain, IPostgreSqlContestant
{
    private const int Workers = 8;
    private static readonly TimeSpan QueuePoll = TimeSpan.FromMilliseconds(50);
    private readonly FarmDatabase _farm = new(server);

    public override string Name => $"Hangfire.PostgreSql, {nodes} servers";

    public override string Settings => $"Hangfire.PostgreSql, a BackgroundJobServer per node process, {Workers} workers each, QueuePollInterval {QueuePoll.TotalMilliseconds:F0} ms";

    public string Database => _farm.Database;

#pragma warning disable CS0618 // the connection-string constructor is the simplest form the 1.21 package still offers
    private static PostgreSqlStorage NewStorage(string connectionString) =>
        new(connectionString, new PostgreSqlStorageOptions { PrepareSchemaIfNecessary = true, QueuePollInterval = QueuePoll });
#pragma warning restore CS0618

    internal static IHost BuildHost(string connectionString)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostedService>(_ => new ServerService(NewStorage(connectionString)));
        return builder.Build();
    }

    public override async Task PrepareAsync(string directory)
    {
        await _farm.CreateAsync("hangfire_farm");
        Storage = NewStorage(_farm.ConnectionString); // prepares the schema before the servers start
        await _farm.StartNodesAsync("hangfire", nodes, hold: backlog);
    }

    public override async Task QueueBacklogAsync(int count)
    {
        await EnqueueAsync(count);
        _farm.BacklogQueued = true;
    }

    public override async Task<int> DrainAsync(int count)
    {
        if (!_farm.BacklogQueued)
        {
            return await base.DrainAsync(count);
        }

        await _farm.ReleaseIfHeldAsync();
        return await WaitSucceededAsync(count);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _farm.DisposeAsync();
    }

    private sealed class ServerService(JobStorage storage) : IHostedService
    {
        private BackgroundJobServer? _server;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _server = new BackgroundJobServer(new BackgroundJobServerOptions { ServerName = $"node-{Environment.ProcessId}", WorkerCount = Workers }, storage);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            _server?.SendStop();
            _server?.Dispose();
            return Task.CompletedTask;
        }
    }
}
