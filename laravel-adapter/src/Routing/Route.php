<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Routing;

use Closure;

/**
 * One line of routes/mqtt.php: a topic pattern with named levels
 * ('metrics/{tenant}/{agent}/{metric}', a last '{rest*}'), what handles its
 * messages, and the checks a message must pass first. The extension matches
 * the pattern; the constraints and the JSON decoding are checked here.
 */
final class Route
{
    /** @var array<string, array{0: string, 1: string, 2: string}> level name => [how mqtt-broadcast:routes shows it, compiled expression, why a value fails] */
    private array $wheres = [];
    private bool $json = false;
    /** @var array<string, mixed> Laravel validation rules for the decoded payload */
    private array $rules = [];

    /**
     * @param string $pattern below the connection's prefix, the group's prefix included
     * @param Closure|string $action a closure, an invokable class, or a job class
     * @param ?string $connection null: every connection the daemon listens on
     */
    public function __construct(
        public readonly string $pattern,
        public readonly Closure|string $action,
        public readonly ?string $connection = null,
    ) {
    }

    /**
     * A level must match the regular expression, whole (as Laravel's route constraints).
     *
     * @param string|array<string, string> $name a level's name, or names and expressions
     */
    public function where(string|array $name, ?string $expression = null): self
    {
        foreach (is_array($name) ? $name : [$name => $expression] as $level => $regex) {
            $this->constrain($level, $regex, $regex, "does not match $regex");
        }
        return $this;
    }

    public function whereUuid(string ...$names): self
    {
        foreach ($names as $name) {
            $this->constrain($name, '[\da-fA-F]{8}-[\da-fA-F]{4}-[\da-fA-F]{4}-[\da-fA-F]{4}-[\da-fA-F]{12}', 'uuid', 'is not a UUID');
        }
        return $this;
    }

    public function whereNumber(string ...$names): self
    {
        foreach ($names as $name) {
            $this->constrain($name, '[0-9]+', 'number', 'is not a number');
        }
        return $this;
    }

    public function whereAlpha(string ...$names): self
    {
        foreach ($names as $name) {
            $this->constrain($name, '[a-zA-Z]+', 'alpha', 'is not alphabetic');
        }
        return $this;
    }

    public function whereAlphaNumeric(string ...$names): self
    {
        foreach ($names as $name) {
            $this->constrain($name, '[a-zA-Z0-9]+', 'alphanumeric', 'is not alphanumeric');
        }
        return $this;
    }

    /** @param list<string|\BackedEnum> $values */
    public function whereIn(string $name, array $values): self
    {
        $values = array_map(static fn ($v) => (string) ($v instanceof \BackedEnum ? $v->value : $v), $values);
        $this->constrain(
            $name,
            implode('|', array_map(static fn (string $v) => preg_quote($v), $values)),
            'in:' . implode(',', $values),
            'is not one of ' . implode(', ', $values)
        );
        return $this;
    }

    /**
     * The payload must be JSON (and pass the Laravel validation rules, if
     * given); the handler gets it decoded as $payload.
     *
     * @param array<string, mixed> $rules
     */
    public function json(array $rules = []): self
    {
        $this->json = true;
        $this->rules = $rules;
        return $this;
    }

    public function decodesJson(): bool
    {
        return $this->json;
    }

    /** @return array<string, mixed> */
    public function rules(): array
    {
        return $this->rules;
    }

    /** The MQTT filter the pattern subscribes: '{name}' is '+', a last '{name*}' is '#'. */
    public function filter(): string
    {
        return preg_replace(['#\{[^/{}]+\*\}$#', '#\{[^/{}]+\}#'], ['#', '+'], $this->pattern);
    }

    /**
     * Why the levels fail the constraints, or null when they pass.
     *
     * @param array<string, string> $params
     */
    public function violation(array $params): ?string
    {
        foreach ($this->wheres as $name => [, $compiled, $problem]) {
            $value = $params[$name] ?? '';
            if (preg_match($compiled, $value) !== 1) {
                return sprintf('level {%s} "%s" %s', $name, $value, $problem);
            }
        }
        return null;
    }

    /** @return array<string, string> level name => what it asks for ('uuid', 'in:cpu,disk', an expression), for mqtt-broadcast:routes */
    public function constraints(): array
    {
        return array_map(static fn (array $where) => $where[0], $this->wheres);
    }

    public function actionName(): string
    {
        return $this->action instanceof Closure ? 'Closure' : $this->action;
    }

    private function constrain(string $name, string $regex, string $label, string $problem): void
    {
        if (!preg_match('#\{' . preg_quote($name, '#') . '\*?\}#', $this->pattern)) {
            throw new \InvalidArgumentException(sprintf('MQTT route "%s" has no level named {%s} to constrain.', $this->pattern, $name));
        }
        // Anchored, as Laravel's constraints; \x01 as the delimiter, which no expression contains.
        $compiled = "\x01^(?:$regex)\$\x01Du";
        if (@preg_match($compiled, '') === false) {
            throw new \InvalidArgumentException(sprintf('MQTT route "%s": the constraint of {%s} is not a valid regular expression: %s', $this->pattern, $name, $regex));
        }
        $this->wheres[$name] = [$label, $compiled, $problem];
    }
}
