using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Identity.Abstractions;
using OperationsHub.Core.Data;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests.DirectoryFeature;

/// <summary>
/// The hub in Entra ID mode, talking to <see cref="FakeGraph"/>: Microsoft.Identity.Web is wired against an OpenID
/// discovery document served on loopback (<see cref="LoopbackAuthority"/>), token acquisition is the
/// <see cref="FakeAuthorizationHeaderProvider"/>, and requests still sign in through the test authentication handler.
/// <see cref="StartAsync"/> starts all three; disposing the factory stops them.
/// </summary>
public sealed class EntraDirectoryFactory(
    LoopbackAuthority authority, FakeGraph graph, IDictionary<string, string?>? settings = null, bool realTokenAcquisition = false,
    OperationsHub.Testing.TestProvider provider = OperationsHub.Testing.TestProvider.Sqlite)
    : HubAppFactory(provider)
{
    public const string ClientId = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    /// <summary>The fake Graph this hub talks to.</summary>
    public FakeGraph Graph => graph;

    /// <summary>A fake Graph, a loopback authority and the hub on them, with the test world seeded.</summary>
    public static async Task<EntraDirectoryFactory> StartAsync(
        IDictionary<string, string?>? settings = null, bool realTokenAcquisition = false,
        OperationsHub.Testing.TestProvider provider = OperationsHub.Testing.TestProvider.Sqlite)
    {
        var ct = TestContext.Current.CancellationToken;
        var app = new EntraDirectoryFactory(await LoopbackAuthority.StartAsync(ct), await FakeGraph.StartAsync(ct), settings, realTokenAcquisition, provider);
        await app.InitializeWorldAsync();
        return app;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await authority.DisposeAsync();
        await graph.DisposeAsync();
    }

    public FakeAuthorizationHeaderProvider Headers { get; } = new();

    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var all = LoopbackAuthority.HubSettings(authority.Instance, ClientId);
            all["Graph:BaseUrl"] = graph.BaseUrl.ToString();
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                all[key] = value;
            }

            return all;
        }
    }

    /// <summary>Stores a hub tenant's Entra directory id, as an owner linking the tenant would.</summary>
    public async Task SetDirectoryTenantIdAsync(long tenantId, string? directoryTenantId)
    {
        var dbFactory = Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync();
        var tenant = await db.Tenants.SingleAsync(t => t.Id == tenantId);
        tenant.DirectoryTenantId = directoryTenantId;
        await db.SaveChangesAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            // The loopback authority speaks plain HTTP; a real Entra authority is always HTTPS.
            // Configure, not PostConfigure: the OpenID Connect handler's own post-configuration enforces HTTPS.
            services.Configure<OpenIdConnectOptions>(OpenIdConnectDefaults.AuthenticationScheme, o => o.RequireHttpsMetadata = false);
            if (!realTokenAcquisition)
            {
                // Scoped, as Microsoft.Identity.Web registers the real one: the hub must resolve it inside a scope.
                services.RemoveAll<IAuthorizationHeaderProvider>();
                services.AddScoped<IAuthorizationHeaderProvider>(_ => Headers);
            }
        });
    }
}
