using Microsoft.Kiota.Abstractions.Serialization;
using OrderCancel.Client.Models;

namespace OrderCancel.Client;

/// <summary>
/// The service refused a call: an RFC 9457 problem. Branch on <see cref="Code"/> (stable); quote <see cref="TraceId"/>
/// when reporting one. A 422's <see cref="Errors"/> maps each request field to what is wrong with it.
/// </summary>
public sealed class ProblemException : Exception
{
    public ProblemException(Problem problem, int status)
        : base($"{status} {problem.Code?.ToString() ?? "problem"}: {problem.Detail ?? problem.Title}")
    {
        Problem = problem;
        Status = problem.Status ?? status;
        Code = problem.Code;
        TraceId = problem.TraceId;
        Errors = ErrorsOf(problem);
    }

    public ProblemException()
    {
        Problem = new Problem();
        Errors = new Dictionary<string, IReadOnlyList<string>>();
    }

    public ProblemException(string message)
        : base(message)
    {
        Problem = new Problem();
        Errors = new Dictionary<string, IReadOnlyList<string>>();
    }

    public ProblemException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problem = new Problem();
        Errors = new Dictionary<string, IReadOnlyList<string>>();
    }

    /// <summary>The problem as the service sent it.</summary>
    public Problem Problem { get; }

    public int Status { get; }

    /// <summary>The problem's <c>code</c>; null only for a code newer than this library (then see <see cref="Problem"/>).</summary>
    public ProblemCode? Code { get; }

    public string? TraceId { get; }

    /// <summary>A 422's field errors: each field (as the request named it) with its messages; empty otherwise.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors { get; }

    private static Dictionary<string, IReadOnlyList<string>> ErrorsOf(Problem problem)
    {
        var errors = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var (field, value) in problem.Errors?.AdditionalData ?? new Dictionary<string, object>())
        {
            errors[field] = value switch
            {
                UntypedArray messages => [.. messages.GetValue().Select(Text)],
                UntypedNode message => [Text(message)],
                _ => [value?.ToString() ?? ""],
            };
        }

        return errors;
    }

    private static string Text(UntypedNode node) => node is UntypedString text ? text.GetValue() ?? "" : node.GetValue()?.ToString() ?? "";
}
