using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Worker;
using Quartz;

namespace OperationsHub.Core.Webhooks;

/// <summary>
/// Sends the outbox: takes due deliveries from the database (any node may; a claim is a conditional update with an
/// expiry, so a node that dies mid-request leaves the row to another), posts each signed, on the thread pool, and
/// records every try. One slow receiver holds at most <see cref="WebhookOptions.MaxInFlightPerEndpoint"/> of this
/// node's <see cref="WebhookOptions.MaxConcurrency"/> slots, and the run lifecycle never waits for any of it: the
/// outbox row was written in the transition's commit.
/// </summary>
internal sealed partial class WebhookSender(
    IDbContextFactory<HubDbContext> dbFactory,
    IHttpClientFactory httpClients,
    WebhookSecrets secrets,
    IOptions<WebhookOptions> options,
    WorkerIdentity identity,
    TimeProvider time,
    ILogger<WebhookSender> logger)
{
    public const string HttpClientName = "OperationsHub.Webhooks";
    private static readonly TimeSpan ClaimMargin = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<long, int> _inFlight = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private int _busy;

    public async Task RunAsync(CancellationToken stopping)
    {
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            int started;
            try
            {
                started = await ClaimAndSendAsync(stopping);
                failures = 0;
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // The database is away: nothing was claimed; look again later, never give up.
                LogClaimFailed(logger, ++failures, Sanitizer.SanitizeText(ex.Message));
                started = 0;
            }

            if (started == 0)
            {
                try
                {
                    await _wake.WaitAsync(options.Value.PollInterval * Math.Min(failures + 1, 10), stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        while (Volatile.Read(ref _busy) > 0)
        {
            await Task.Delay(50, CancellationToken.None);
        }
    }

    private async Task<int> ClaimAndSendAsync(CancellationToken stopping)
    {
        var settings = options.Value;
        var free = settings.MaxConcurrency - Volatile.Read(ref _busy);
        if (free <= 0)
        {
            return 0;
        }

        var now = time.GetUtcNow().UtcDateTime;
        var full = _inFlight.Where(e => e.Value >= settings.MaxInFlightPerEndpoint).Select(e => e.Key).ToList();
        await using var db = await dbFactory.CreateDbContextAsync(stopping);
        var due = await db.WebhookDeliveries.AsNoTracking()
            .Where(d => d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now
                && (d.ClaimedUntil == null || d.ClaimedUntil < now) && !full.Contains(d.EndpointId))
            .OrderBy(d => d.NextAttemptAt).ThenBy(d => d.Id)
            .Take(free * 2)
            .Select(d => new { d.Id, d.EndpointId })
            .ToListAsync(stopping);
        var started = 0;
        foreach (var delivery in due)
        {
            if (started >= free)
            {
                break;
            }

            if (!Reserve(delivery.EndpointId, settings.MaxInFlightPerEndpoint))
            {
                continue;
            }

            var until = now + settings.Timeout + ClaimMargin;
            var taken = await db.WebhookDeliveries
                .Where(d => d.Id == delivery.Id && d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now
                    && (d.ClaimedUntil == null || d.ClaimedUntil < now))
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.ClaimedBy, identity.Name).SetProperty(d => d.ClaimedUntil, until), stopping);
            if (taken == 0)
            {
                Release(delivery.EndpointId); // another node took it
                continue;
            }

            Interlocked.Increment(ref _busy);
            started++;
            _ = Task.Run(() => SendAsync(delivery.Id, delivery.EndpointId, stopping), CancellationToken.None);
        }

        return started;
    }

    private async Task SendAsync(long deliveryId, long endpointId, CancellationToken stopping)
    {
        try
        {
            await SendOneAsync(deliveryId, stopping);
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            // Its outcome could not be written: the claim runs out and the delivery is tried again.
            LogSendFailed(logger, deliveryId, Sanitizer.SanitizeText(ex.Message));
        }
        catch (Exception)
        {
            // Stopping: the claim runs out and another node (or this one, restarted) tries again.
        }
        finally
        {
            Release(endpointId);
            Interlocked.Decrement(ref _busy);
            _wake.Release();
        }
    }

    private async Task SendOneAsync(long deliveryId, CancellationToken stopping)
    {
        var settings = options.Value;
        WebhookDelivery delivery;
        string url;
        string protectedSecret;
        bool disabled;
        string tenant;
        await using (var db = await dbFactory.CreateDbContextAsync(stopping))
        {
            var row = await (
                    from d in db.WebhookDeliveries.AsNoTracking()
                    join e in db.WebhookEndpoints on d.EndpointId equals e.Id
                    join t in db.Tenants on d.TenantId equals t.Id
                    where d.Id == deliveryId
                    select new { Delivery = d, e.Url, e.ProtectedSecret, Disabled = e.DisabledAt != null, t.ExternalId })
                .SingleOrDefaultAsync(stopping);
            if (row is null)
            {
                return; // deleted with its endpoint or its run
            }

            (delivery, url, protectedSecret, disabled, tenant) = (row.Delivery, row.Url, row.ProtectedSecret, row.Disabled, row.ExternalId);
        }

        if (disabled)
        {
            await RecordAsync(delivery, null, "The endpoint is switched off; nothing was sent.", 0, final: true);
            return;
        }

        string secret;
        try
        {
            secret = secrets.Unprotect(protectedSecret);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // The key ring no longer holds the key it was protected with (a restore, a lost key row): no try can sign.
            await RecordAsync(delivery, null, "The endpoint's signing secret cannot be read on this hub (its key ring changed); register the webhook again.", 0, final: true);
            return;
        }

        var body = WebhookPayloads.Body(delivery, tenant, settings.PublicBaseUrl);
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(WebhookSignature.Header, WebhookSignature.Sign(secret, time.GetUtcNow().ToUnixTimeSeconds(), body));
        request.Headers.Add(WebhookSignature.DeliveryHeader, delivery.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.EventHeader, delivery.Event);
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("OperationsHub-Webhooks", "1"));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(settings.Timeout);
        var began = time.GetTimestamp();
        int? status = null;
        string? error = null;
        try
        {
            using var response = await httpClients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                error = $"The endpoint answered {status} {response.ReasonPhrase}.";
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            error = $"No answer within {settings.Timeout.TotalSeconds:0.#} s.";
        }
        catch (HttpRequestException ex)
        {
            error = ex.InnerException is WebhookAddressRefusedException refused
                ? refused.Message
                : Sanitizer.SanitizeText($"The request failed: {ex.Message}", WebhookAttempt.MaxErrorLength);
        }

        var elapsed = time.GetElapsedTime(began);
        await RecordAsync(delivery, status, error, (int)Math.Min(int.MaxValue, elapsed.TotalMilliseconds), final: false);
    }

    /// <summary>
    /// Writes the try and what it means for the delivery, only while this node still holds its claim (a claim that
    /// ran out may already be another node's: then this try is not recorded twice).
    /// </summary>
    private async Task RecordAsync(WebhookDelivery delivery, int? status, string? error, int durationMs, bool final)
    {
        var settings = options.Value;
        var now = time.GetUtcNow().UtcDateTime;
        var attempts = delivery.Attempts + 1;
        var delivered = error is null;
        var failed = !delivered && (final || attempts >= settings.MaxAttempts);
        var next = delivered || failed ? delivery.NextAttemptAt : now + settings.BackoffAfter(attempts);
        var state = delivered ? WebhookDeliveryStatus.Delivered : failed ? WebhookDeliveryStatus.Failed : WebhookDeliveryStatus.Pending;
        var completedAt = delivered || failed ? now : (DateTime?)null;
        var clipped = error is null ? null : Sanitizer.SanitizeText(error, WebhookAttempt.MaxErrorLength);

        await using var db = await dbFactory.CreateDbContextAsync(CancellationToken.None);
        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        var owner = identity.Name;
        var updated = await db.WebhookDeliveries
            .Where(d => d.Id == delivery.Id && d.ClaimedBy == owner && d.Status == WebhookDeliveryStatus.Pending)
            .ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Status, state)
                .SetProperty(d => d.Attempts, attempts)
                .SetProperty(d => d.NextAttemptAt, next)
                .SetProperty(d => d.LastStatusCode, status)
                .SetProperty(d => d.LastError, clipped)
                .SetProperty(d => d.CompletedAt, completedAt)
                .SetProperty(d => d.ClaimedBy, (string?)null)
                .SetProperty(d => d.ClaimedUntil, (DateTime?)null), CancellationToken.None);
        if (updated == 0)
        {
            return; // the claim was lost (or the delivery re-sent meanwhile): the other owner records its own try
        }

        db.WebhookAttempts.Add(new WebhookAttempt { DeliveryId = delivery.Id, At = now, StatusCode = status, Error = clipped, DurationMs = durationMs });
        await db.SaveChangesAsync(CancellationToken.None);
        await transaction.CommitAsync(CancellationToken.None);
        if (failed)
        {
            LogGaveUp(logger, delivery.Id, delivery.EndpointId, attempts, clipped ?? "");
        }
    }

    private bool Reserve(long endpointId, int limit)
    {
        while (true)
        {
            var current = _inFlight.GetOrAdd(endpointId, 0);
            if (current >= limit)
            {
                return false;
            }

            if (_inFlight.TryUpdate(endpointId, current + 1, current))
            {
                return true;
            }
        }
    }

    private void Release(long endpointId) => _inFlight.AddOrUpdate(endpointId, 0, (_, count) => Math.Max(0, count - 1));

    /// <summary>
    /// The connection rule for webhook requests: resolve the name here and connect only to addresses the rule allows,
    /// so a name that resolves to a metadata service (or changes to one after registration) is never called.
    /// </summary>
    internal static SocketsHttpHandler CreateHandler(IOptions<WebhookOptions> options) => new()
    {
        AllowAutoRedirect = false, // a redirect could lead anywhere; a receiver answers where it was registered
        UseCookies = false,
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            var refusals = addresses.Select(a => WebhookAddress.AddressRefusal(a, options.Value)).ToList();
            var allowed = addresses.Where((_, i) => refusals[i] is null).ToArray();
            if (allowed.Length == 0)
            {
                throw new WebhookAddressRefusedException(
                    $"{host} resolves only to {refusals.FirstOrDefault(r => r is not null) ?? "nothing"}; the hub does not call it.");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Webhooks: could not look for due deliveries ({Failures} in a row): {Message}")]
    private static partial void LogClaimFailed(ILogger logger, int failures, string message);

    [LoggerMessage(EventId = 1702, Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId}: its outcome could not be recorded; it will be tried again: {Message}")]
    private static partial void LogSendFailed(ILogger logger, long deliveryId, string message);

    [LoggerMessage(EventId = 1703, Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} to endpoint {EndpointId} failed after {Attempts} tries: {Error}")]
    private static partial void LogGaveUp(ILogger logger, long deliveryId, long endpointId, int attempts, string error);
}

/// <summary>The address an endpoint's name resolved to is one the hub does not call.</summary>
public sealed class WebhookAddressRefusedException(string message) : Exception(message);

/// <summary>Hosts the webhook sender in Quartz beside the worker: one long-running job that ends when the host stops.</summary>
[DisallowConcurrentExecution]
internal sealed class WebhookJob(WebhookSender sender, IHostApplicationLifetime lifetime) : IJob
{
    public static readonly JobKey Key = new("webhooks", "operationshub");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        await sender.RunAsync(stopping.Token);
    }
}
