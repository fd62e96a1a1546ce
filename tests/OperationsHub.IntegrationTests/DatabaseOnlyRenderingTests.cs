using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// The monitoring pages render from the database alone: with an external directory client that throws on any call,
/// both pages still render, and the client was never asked anything.
/// </summary>
public sealed class DatabaseOnlyRenderingTests : IAsyncLifetime
{
    private readonly ThrowingDirectoryClient _directory = new();
    private readonly Factory _app;

    public DatabaseOnlyRenderingTests() => _app = new Factory(_directory);

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Theory]
    [InlineData("/admin/t/alpha/operations")]
    [InlineData("/admin/t/alpha/operations?status=completed&outcome=succeeded&type=inventory_sync&mine=true&range=7d&q=devices&sort=oldest&size=50")]
    [InlineData("/admin/t/alpha/operations/{run}")]
    [InlineData("/admin/t/alpha")]
    [InlineData("/admin/t/alpha/directory")]
    [InlineData("/admin/t/alpha/restore")]
    [InlineData("/admin/t/alpha/access")]
    public async Task Page_RendersWithoutCallingTheDirectory(string path)
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOwner);

        using var response = await client.GetAsync(path.Replace("{run}", _app.World.AlphaRunId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).Should().Contain("<h1");
        _directory.Calls.Should().Be(0);
    }

    [Fact]
    public async Task TheThrowingClient_IsTheOneTheAppWouldUse()
    {
        // Guards the test itself: were the registration ignored, the pages above would prove nothing.
        _app.Services.GetRequiredService<IDirectoryClient>().Should().BeSameAs(_directory);
        var act = () => _directory.GetGroupsDeltaAsync(new DirectoryScope(1, null), null, default);
        await act.Should().ThrowAsync<InvalidOperationException>();
    }

    private sealed class Factory(IDirectoryClient directory) : HubAppFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton(directory));
        }
    }

    private sealed class ThrowingDirectoryClient : IDirectoryClient
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<DirectoryDeltaPage> GetGroupsDeltaAsync(DirectoryScope scope, string? link, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            throw new InvalidOperationException("The monitoring pages must not call the directory.");
        }
    }
}
