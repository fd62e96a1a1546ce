using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace OperationsHub.IntegrationTests;

/// <summary>A database the host cannot use stops it at start-up, with a message naming the setting to fix.</summary>
public sealed class DatabaseConfigurationTests
{
    [Fact]
    public void UnknownProvider_StopsTheHost_NamingTheKeyAndTheChoices()
    {
        using var app = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("Database:Provider", "Oracle")
            .UseSetting("Demo:Enabled", "false"));

        var start = () => app.Services;

        start.Should().Throw<Exception>()
            .Which.ToString().Should().Contain("Database:Provider 'Oracle' is not supported; use one of: Sqlite, PostgreSql.");
    }

    [Fact]
    public void UnreachablePostgreSql_StopsTheHost_NamingTheKey_WithoutThePassword()
    {
        using var app = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("Database:Provider", "PostgreSql")
            // Port 1 on loopback: nothing listens there, so the connection is refused at once.
            .UseSetting("Database:ConnectionString", "Host=127.0.0.1;Port=1;Username=hub;Password=s3cret-pw;Database=hub;Timeout=3")
            .UseSetting("Demo:Enabled", "false")
            .UseSetting("Worker:Enabled", "false"));

        var start = () => app.Services;

        var thrown = start.Should().Throw<InvalidOperationException>().Which;
        thrown.Message.Should().Contain("Database:ConnectionString").And.Contain("Host=127.0.0.1; Port=1; Database=hub")
            .And.NotContain("s3cret-pw");
    }
}
