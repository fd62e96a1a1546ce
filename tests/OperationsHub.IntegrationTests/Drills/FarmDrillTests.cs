using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Testing;
using OperationsHub.Web.Features.Demo;

namespace OperationsHub.IntegrationTests.Drills;

/// <summary>
/// The README's "Run several nodes": the farm program (src/OperationsHub.Farm, as built beside this suite) starts two
/// hub processes on one PostgreSQL database and YARP in front; a visitor signs in and works through the proxy.
/// </summary>
public sealed class FarmDrillTests : IAsyncLifetime
{
    private readonly StringBuilder _output = new();
    private TestDatabase _database = null!;
    private Process? _farm;
    private Uri _proxy = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _database = await TestDatabase.CreateAsync(TestProvider.PostgreSql);
        // Built with this suite (a build-order reference in the test project), in the same configuration.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var farmDll = Path.Combine(RepositoryRoot(), "src", "OperationsHub.Farm", "bin", output.Parent!.Name, output.Name, "OperationsHub.Farm.dll");
        File.Exists(farmDll).Should().BeTrue($"building this test project builds the farm at {farmDll}");

        var proxyPort = HubProcess.FreeLoopbackPort();
        _proxy = new Uri($"http://127.0.0.1:{proxyPort}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(farmDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            farmDll, "--urls", _proxy.ToString(),
            "--Farm:FirstNodePort", FreeLoopbackPortPair().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Farm:ConnectionString", _database.ConnectionString,
        })
        {
            start.ArgumentList.Add(argument);
        }

        _farm = Process.Start(start)!;
        _farm.OutputDataReceived += (_, e) => Append(e.Data);
        _farm.ErrorDataReceived += (_, e) => Append(e.Data);
        _farm.BeginOutputReadLine();
        _farm.BeginErrorReadLine();

        var clock = Stopwatch.StartNew();
        while (!Output.Contains("OperationsHub farm: 2 nodes behind", StringComparison.Ordinal))
        {
            if (_farm.HasExited || clock.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new InvalidOperationException($"The farm did not come up.\n{Output}");
            }

            await Task.Delay(200, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_farm is { HasExited: false })
        {
            // Ctrl+C, as the README says: the farm stops its nodes on the way out.
            Process.Start("kill", ["-INT", _farm.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!_farm.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                _farm.Kill(entireProcessTree: true);
            }
        }

        _farm?.Dispose();
        await _database.DisposeAsync();
    }

    private string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    [Fact]
    public async Task TwoNodesBehindTheProxy_ServeASignedInVisitor_OnOneNodeKeptByCookie()
    {
        var ct = TestContext.Current.CancellationToken;
        Output.Should().Contain("Node 1 is up").And.Contain("Node 2 is up");

        var cookies = new CookieContainer();
        using var visitor = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = _proxy };
        using (var signIn = await FormSignIn.SignInAsync(visitor, "operator@contoso.test", DemoSeed.DemoPassword, "/", ct))
        {
            signIn.StatusCode.Should().Be(HttpStatusCode.Redirect, Output);
            signIn.Headers.Location!.IsAbsoluteUri.Should().BeFalse($"redirects stay relative, whichever node answers behind the proxy ({signIn.Headers.Location})");
        }

        cookies.GetCookies(_proxy).Select(c => c.Name).Should().Contain("opshub.node", "YARP keeps the visitor on one node")
            .And.Contain("opshub.auth");
        for (var i = 0; i < 4; i++)
        {
            using var page = await visitor.GetAsync("/admin/t/contoso/operations", ct);
            page.StatusCode.Should().Be(HttpStatusCode.OK, Output);
        }

        // Visitors without the affinity cookie are spread: both nodes are in rotation and ready.
        var readyNodes = 0;
        foreach (var port in Output.Split('\n').Where(l => l.StartsWith("Node ", StringComparison.Ordinal) && l.Contains(" is up at ", StringComparison.Ordinal))
            .Select(l => new Uri(l.Split(" is up at ")[1].Split(' ')[0])))
        {
            using var node = new HttpClient { BaseAddress = port };
            using var ready = await node.GetAsync("/healthz/ready", ct);
            if (ready.IsSuccessStatusCode)
            {
                readyNodes++;
            }
        }

        readyNodes.Should().Be(2);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OperationsHub.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("OperationsHub.sln not found above the test's folder.");
    }

    /// <summary>A port whose next port is free too (the farm's two nodes take consecutive ports).</summary>
    private static int FreeLoopbackPortPair()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var first = HubProcess.FreeLoopbackPort();
            try
            {
                using var next = new TcpListener(IPAddress.Loopback, first + 1);
                next.Start();
                return first;
            }
            catch (SocketException)
            {
                // taken: try another
            }
        }

        throw new InvalidOperationException("No two consecutive free loopback ports.");
    }
}
