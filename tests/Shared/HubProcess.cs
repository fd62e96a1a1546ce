using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OperationsHub.Web.Features.Demo;

namespace OperationsHub.Testing;

/// <summary>
/// The hub as its own operating-system process (<c>dotnet OperationsHub.Web.dll</c>) on a loopback port and a SQLite
/// file the test owns, with demo sign-ins and no generated runs. It can be killed with SIGKILL and started again on
/// the same file. Its output is kept for the failure message.
/// </summary>
internal sealed class HubProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HubProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static Task<HubProcess> StartAsync(string databasePath, IReadOnlyDictionary<string, string> settings, CancellationToken ct) =>
        StartAsync(new Dictionary<string, string?> { ["Database:ConnectionString"] = $"Data Source={databasePath}" }, settings, ct);

    /// <summary>A hub process on a test database of either provider (several processes on one database: a web farm).</summary>
    public static Task<HubProcess> StartAsync(TestDatabase database, IReadOnlyDictionary<string, string> settings, CancellationToken ct) =>
        StartAsync(database.Settings, settings, ct);

    /// <summary>A hub process on the database <paramref name="databaseSettings"/> name (<c>Database:Provider</c>, <c>Database:ConnectionString</c>).</summary>
    public static async Task<HubProcess> StartAsync(
        IReadOnlyDictionary<string, string?> databaseSettings, IReadOnlyDictionary<string, string> settings, CancellationToken ct)
    {
        var port = FreeLoopbackPort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OperationsHub.Web.dll"));
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["ASPNETCORE_URLS"] = address.ToString();
        foreach (var (key, value) in databaseSettings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["Demo__Enabled"] = "true";
        start.Environment["Demo__GenerateRuns"] = "false";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var hub = new HubProcess(process, address);
        process.OutputDataReceived += (_, e) => hub.Append(e.Data);
        process.ErrorDataReceived += (_, e) => hub.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await hub.WaitUntilHealthyAsync(ct);
        return hub;
    }

    /// <summary>A client with its own cookie jar, signed in through the real form as a demo user.</summary>
    public async Task<HttpClient> SignedInClientAsync(string email, CancellationToken ct)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = Address,
        };
        using var response = await FormSignIn.SignInAsync(client, email, DemoSeed.DemoPassword, "/", ct);
        if (response.StatusCode != HttpStatusCode.Redirect)
        {
            client.Dispose();
            throw new InvalidOperationException($"Sign-in as {email} answered {(int)response.StatusCode}.\n{Output}");
        }

        return client;
    }

    /// <summary>A client of the API as a script calls it: with the demo tenant's API token (the demo seed's Operator token).</summary>
    public HttpClient ApiClient(string tenant = "contoso")
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = Address };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", DemoSeed.DemoToken(tenant));
        return client;
    }

    /// <summary>SIGKILL: no shutdown hooks, no lease release, no flush. What a crash or an OOM kill looks like.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private async Task WaitUntilHealthyAsync(CancellationToken ct)
    {
        using var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The hub exited with code {_process.ExitCode} while starting.\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync("/healthz", ct);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                // slow first request
            }

            await Task.Delay(100, ct);
        }

        throw new TimeoutException($"The hub did not answer /healthz within 90 s.\n{Output}");
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
    }

    internal static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
