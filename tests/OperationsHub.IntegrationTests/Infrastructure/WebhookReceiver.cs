using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace OperationsHub.IntegrationTests.Infrastructure;

/// <summary>
/// A webhook receiver on loopback, as a customer's endpoint would be: it records every request (headers and raw
/// body), answers 200 unless a path is scripted to answer other status codes first, and can hold a path's requests
/// open until the test lets them go (a slow receiver, without a timed wait).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedHook> _received = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<int>> _scripted = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _waiting = new(StringComparer.Ordinal);
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app, Uri origin)
    {
        _app = app;
        Origin = origin;
    }

    public Uri Origin { get; }

    public IReadOnlyList<ReceivedHook> Received => [.. _received];

    /// <summary>The address of <paramref name="path"/> on this receiver ("/ok" → http://127.0.0.1:port/ok).</summary>
    public string Url(string path) => new Uri(Origin, path).AbsoluteUri;

    /// <summary>The next requests to <paramref name="path"/> are answered <paramref name="statuses"/>, in order; then 200.</summary>
    public void Answer(string path, params int[] statuses)
    {
        var queue = _scripted.GetOrAdd(path, _ => new ConcurrentQueue<int>());
        foreach (var status in statuses)
        {
            queue.Enqueue(status);
        }
    }

    /// <summary>Holds every request to <paramref name="path"/> open until <see cref="Release"/>.</summary>
    public void Hold(string path) => _held[path] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release(string path)
    {
        if (_held.TryRemove(path, out var gate))
        {
            gate.TrySetResult();
        }
    }

    /// <summary>How many requests to <paramref name="path"/> are being held open right now.</summary>
    public int Waiting(string path) => _waiting.GetValueOrDefault(path);

    public static async Task<WebhookReceiver> StartAsync(CancellationToken cancellationToken)
    {
        WebhookReceiver? receiver = null;
        var (app, origin) = await LoopbackServer.StartAsync(context => receiver!.HandleAsync(context), cancellationToken);
        receiver = new WebhookReceiver(app, origin);
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var path in _held.Keys)
        {
            Release(path);
        }

        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _received.Enqueue(new ReceivedHook(path, context.Request.Method, headers, body, DateTime.UtcNow));
        if (_held.TryGetValue(path, out var gate))
        {
            _waiting.AddOrUpdate(path, 1, (_, n) => n + 1);
            try
            {
                await gate.Task.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return; // the hub gave up on us (its timeout), as a real slow receiver would see
            }
            finally
            {
                _waiting.AddOrUpdate(path, 0, (_, n) => n - 1);
            }
        }

        context.Response.StatusCode = _scripted.TryGetValue(path, out var queue) && queue.TryDequeue(out var status) ? status : 200;
    }
}

public sealed record ReceivedHook(string Path, string Method, IReadOnlyDictionary<string, string> Headers, string Body, DateTime At)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}
