using OperationsHub.Farm;
using Yarp.ReverseProxy.Configuration;

// Several hub nodes on one machine, as a load balancer would see them: each node is its own process
// (OperationsHub.Web.dll) on one PostgreSQL database, and YARP in front spreads new visitors over them and keeps each
// visitor on one node (cookie affinity; a node that stops answering /healthz/ready is taken out of rotation).
var builder = WebApplication.CreateBuilder(args);
// The proxy's own routine (a health probe of every node every 5 s) is not news; its warnings are.
builder.Logging.AddFilter("Yarp", LogLevel.Warning);
var options = builder.Configuration.GetSection(FarmOptions.SectionName).Get<FarmOptions>() ?? new FarmOptions();
options.Validate();

var nodes = new List<HubNode>();
for (var i = 1; i <= options.Nodes; i++)
{
    // One after the other: the first migrates the database and seeds the demo, the next find it done.
    nodes.Add(await HubNode.StartAsync(i, options, CancellationToken.None));
    Console.WriteLine($"Node {i} is up at {nodes[^1].Address} (process {nodes[^1].ProcessId}).");
}

builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "hub", ClusterId = "nodes", Match = new RouteMatch { Path = "{**path}" } }],
    [
        new ClusterConfig
        {
            ClusterId = "nodes",
            LoadBalancingPolicy = "RoundRobin",
            SessionAffinity = new SessionAffinityConfig { Enabled = true, Policy = "Cookie", AffinityKeyName = "opshub.node" },
            HealthCheck = new HealthCheckConfig
            {
                Active = new ActiveHealthCheckConfig { Enabled = true, Interval = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(3), Path = "/healthz/ready" },
            },
            Destinations = nodes.ToDictionary(n => $"node{n.Number}", n => new DestinationConfig { Address = n.Address.ToString() }),
        },
    ]);

var app = builder.Build();
app.MapReverseProxy();
app.Lifetime.ApplicationStopping.Register(() =>
{
    foreach (var node in nodes)
    {
        node.Dispose();
    }
});
app.Lifetime.ApplicationStarted.Register(() =>
    Console.WriteLine($"OperationsHub farm: {options.Nodes} nodes behind {string.Join(", ", app.Urls)} (Ctrl+C stops them all)."));
await app.RunAsync();
