using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace OperationsHub.IntegrationTests.Infrastructure;

/// <summary>
/// An OpenTelemetry collector on loopback speaking OTLP/HTTP with protobuf bodies (<c>POST /v1/traces</c>,
/// <c>/v1/metrics</c>, <c>/v1/logs</c>), as the OTLP exporter sends to a real one. It keeps every body and decodes the
/// spans (the fields of opentelemetry/proto/trace/v1/trace.proto a test asks about), with a reader of protobuf's wire
/// format of its own: the test must not trust the exporter's own encoder to decode what it encoded.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<(string Path, byte[] Body)> _bodies = [];
    private readonly List<OtlpSpan> _spans = [];
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary>What <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set to: <c>http://127.0.0.1:port/</c>.</summary>
    public Uri Endpoint { get; }

    public IReadOnlyList<OtlpSpan> Spans
    {
        get
        {
            lock (_gate)
            {
                return [.. _spans];
            }
        }
    }

    /// <summary>Whether a body posted to <paramref name="path"/> holds <paramref name="text"/> (a metric's or a log's name, UTF-8).</summary>
    public bool Received(string path, string text)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        lock (_gate)
        {
            return _bodies.Any(b => b.Path == path && b.Body.AsSpan().IndexOf(needle) >= 0);
        }
    }

    public static async Task<OtlpReceiver> StartAsync(CancellationToken cancellationToken)
    {
        OtlpReceiver? receiver = null;
        var (app, origin) = await LoopbackServer.StartAsync(context => receiver!.HandleAsync(context), cancellationToken);
        receiver = new OtlpReceiver(app, origin);
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (context.Request.Method != "POST" || path is not ("/v1/traces" or "/v1/metrics" or "/v1/logs")
            || context.Request.ContentType != "application/x-protobuf")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        var spans = path == "/v1/traces" ? DecodeTraces(body) : [];
        lock (_gate)
        {
            _bodies.Add((path, body));
            _spans.AddRange(spans);
        }

        // An empty Export*ServiceResponse: full success.
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/x-protobuf";
    }

    // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }   InstrumentationScope { string name = 1; }
    private static List<OtlpSpan> DecodeTraces(byte[] body)
    {
        var spans = new List<OtlpSpan>();
        foreach (var resourceSpans in Wire.Fields(body).Where(f => f.Number == 1))
        {
            foreach (var scopeSpans in Wire.Fields(resourceSpans.Bytes).Where(f => f.Number == 2))
            {
                var scope = Wire.Fields(scopeSpans.Bytes).FirstOrDefault(f => f.Number == 1) is { Bytes: { } scopeBytes }
                    ? Wire.String(scopeBytes, 1) ?? ""
                    : "";
                spans.AddRange(Wire.Fields(scopeSpans.Bytes).Where(f => f.Number == 2).Select(f => DecodeSpan(scope, f.Bytes!)));
            }
        }

        return spans;
    }

    // Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; SpanKind kind = 6;
    //        repeated KeyValue attributes = 9; repeated Link links = 13; Status status = 15; }
    // Link { bytes trace_id = 1; bytes span_id = 2; }   Status { string message = 2; StatusCode code = 3; }
    private static OtlpSpan DecodeSpan(string scope, byte[] span)
    {
        var fields = Wire.Fields(span).ToList();
        string Hex(int number) => fields.FirstOrDefault(f => f.Number == number).Bytes is { Length: > 0 } b ? Convert.ToHexStringLower(b) : "";
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var attribute in fields.Where(f => f.Number == 9))
        {
            var pair = Wire.Fields(attribute.Bytes).ToList();
            var key = pair.FirstOrDefault(f => f.Number == 1).Bytes is { } k ? Encoding.UTF8.GetString(k) : "";
            attributes[key] = pair.FirstOrDefault(f => f.Number == 2).Bytes is { } value ? AnyValue(value) : "";
        }

        var links = fields.Where(f => f.Number == 13)
            .Select(f => Wire.Fields(f.Bytes).ToList())
            .Select(l => (TraceId: Convert.ToHexStringLower(l.First(x => x.Number == 1).Bytes!), SpanId: Convert.ToHexStringLower(l.First(x => x.Number == 2).Bytes!)))
            .ToList();
        var status = fields.FirstOrDefault(f => f.Number == 15).Bytes is { } s
            ? (int)(Wire.Fields(s).FirstOrDefault(f => f.Number == 3).Varint)
            : 0;
        return new OtlpSpan(
            scope, Hex(1), Hex(2), Hex(4),
            fields.FirstOrDefault(f => f.Number == 5).Bytes is { } n ? Encoding.UTF8.GetString(n) : "",
            (int)fields.FirstOrDefault(f => f.Number == 6).Varint,
            attributes, links, status);
    }

    // AnyValue { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
    private static string AnyValue(byte[] value)
    {
        var field = Wire.Fields(value).FirstOrDefault();
        return field.Number switch
        {
            1 => Encoding.UTF8.GetString(field.Bytes!),
            2 => field.Varint != 0 ? "true" : "false",
            3 => ((long)field.Varint).ToString(System.Globalization.CultureInfo.InvariantCulture),
            4 => BitConverter.Int64BitsToDouble((long)field.Varint).ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => "",
        };
    }

    /// <summary>Protobuf's wire format: tag varints, then a varint, 64-bit, length-delimited or 32-bit value.</summary>
    private static class Wire
    {
        public static IEnumerable<(int Number, ulong Varint, byte[]? Bytes)> Fields(byte[]? message)
        {
            var data = message ?? [];
            var at = 0;
            var fields = new List<(int, ulong, byte[]?)>();
            while (at < data.Length)
            {
                var tag = Varint(data, ref at);
                var number = (int)(tag >> 3);
                switch (tag & 7)
                {
                    case 0:
                        fields.Add((number, Varint(data, ref at), null));
                        break;
                    case 1:
                        fields.Add((number, BitConverter.ToUInt64(data, at), null));
                        at += 8;
                        break;
                    case 2:
                        var length = (int)Varint(data, ref at);
                        fields.Add((number, 0, data[at..(at + length)]));
                        at += length;
                        break;
                    case 5:
                        fields.Add((number, BitConverter.ToUInt32(data, at), null));
                        at += 4;
                        break;
                    default:
                        throw new InvalidDataException($"Wire type {tag & 7} at byte {at} is not protobuf's.");
                }
            }

            return fields;
        }

        public static string? String(byte[] message, int number) =>
            Fields(message).FirstOrDefault(f => f.Number == number).Bytes is { } b ? Encoding.UTF8.GetString(b) : null;

        private static ulong Varint(byte[] data, ref int at)
        {
            ulong value = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = data[at++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }
        }
    }
}

/// <summary>A span as the collector received it. Kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. Status: 2 error.</summary>
public sealed record OtlpSpan(
    string Scope,
    string TraceId,
    string SpanId,
    string ParentSpanId,
    string Name,
    int Kind,
    IReadOnlyDictionary<string, string> Attributes,
    IReadOnlyList<(string TraceId, string SpanId)> Links,
    int StatusCode);
