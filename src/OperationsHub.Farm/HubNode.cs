using System.Diagnostics;

namespace OperationsHub.Farm;

/// <summary>One hub node: <c>dotnet OperationsHub.Web.dll</c> on a loopback port, its output prefixed with its name.</summary>
internal sealed class HubNode : IDisposable
{
    private readonly Process _process;

    private HubNode(int number, Uri address, Process process)
    {
        Number = number;
        Address = address;
        _process = process;
    }

    public int Number { get; }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    public static async Task<HubNode> StartAsync(int number, FarmOptions options, CancellationToken ct)
    {
        var address = new Uri($"http://127.0.0.1:{options.FirstNodePort + number - 1}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OperationsHub.Web.dll"));
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development"; // demo data and sign-ins, as the README's run
        start.Environment["ASPNETCORE_URLS"] = address.ToString();
        start.Environment["Database__Provider"] = "PostgreSql";
        start.Environment["Database__ConnectionString"] = options.ConnectionString;
        // One node generates the demo's background runs; every node works them.
        start.Environment["Demo__GenerateRuns"] = number == 1 ? "true" : "false";
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        process.OutputDataReceived += (_, e) => Print(number, e.Data);
        process.ErrorDataReceived += (_, e) => Print(number, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var node = new HubNode(number, address, process);
        await node.WaitUntilReadyAsync(ct);
        return node;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        using var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Node {Number} exited with code {_process.ExitCode} while starting (its output is above).");
            }

            try
            {
                using var response = await client.GetAsync("/healthz/ready", ct);
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
                // a slow first request
            }

            await Task.Delay(250, ct);
        }

        throw new TimeoutException($"Node {Number} was not ready within 120 s (its output is above).");
    }

    private static void Print(int number, string? line)
    {
        if (line is not null)
        {
            Console.WriteLine($"[node {number}] {line}");
        }
    }
}
