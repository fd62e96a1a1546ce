using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OperationsHub.IntegrationTests.Infrastructure;

/// <summary>A real Kestrel on a free loopback port for the outside world's test doubles (Graph, a collector, a receiver).</summary>
public static class LoopbackServer
{
    /// <summary>
    /// Starts a server that answers every request with <paramref name="handle"/>, and returns it with its origin
    /// (<c>http://127.0.0.1:port/</c>). No request can arrive before the caller learns the port.
    /// </summary>
    public static async Task<(WebApplication App, Uri Origin)> StartAsync(Func<HttpContext, Task> handle, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(context => handle(context));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address));
    }
}
