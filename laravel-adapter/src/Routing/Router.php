<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Routing;

use Closure;

/**
 * The routes of routes/mqtt.php, as MqttBroadcast::route(), ::group() and
 * ::fallback() declare them; the daemon subscribes and dispatches them.
 */
final class Router
{
    /** @var list<Route> */
    private array $routes = [];
    /** @var list<array{filter: string, connection: ?string}> */
    private array $fallbacks = [];
    /** @var list<array{prefix: string, connection: ?string}> the groups being declared, outermost first */
    private array $groups = [];

    /**
     * @param Closure|class-string $action a closure or an invokable class (called with the levels by name,
     *                                     $message and $payload), or a job class (built with them and dispatched)
     */
    public function route(string $pattern, Closure|string $action): Route
    {
        return $this->routes[] = new Route($this->prefixed($pattern), $action, $this->groupConnection());
    }

    /**
     * Routes with a common topic prefix and connection.
     *
     * @param array{prefix?: string, connection?: string} $attributes
     */
    public function group(array $attributes, Closure $routes): void
    {
        $unknown = array_diff(array_keys($attributes), ['prefix', 'connection']);
        if ($unknown !== []) {
            throw new \InvalidArgumentException(sprintf('MQTT route groups take "prefix" and "connection", not "%s".', implode('", "', $unknown)));
        }
        $this->groups[] = [
            'prefix' => $this->prefixed(trim($attributes['prefix'] ?? '', '/')),
            'connection' => $attributes['connection'] ?? $this->groupConnection(),
        ];
        try {
            $routes();
        } finally {
            array_pop($this->groups);
        }
    }

    /**
     * Subscribes the filter (the group's prefix in front) for the messages
     * below it that match no route: they are rejected ("matches no route"),
     * as a malformed topic of the routes there.
     */
    public function fallback(string $filter): void
    {
        $this->fallbacks[] = ['filter' => $this->prefixed($filter), 'connection' => $this->groupConnection()];
    }

    /** @return list<Route> */
    public function routes(): array
    {
        return $this->routes;
    }

    /** @return list<array{filter: string, connection: ?string}> */
    public function fallbacks(): array
    {
        return $this->fallbacks;
    }

    private function prefixed(string $pattern): string
    {
        $prefix = $this->groups === [] ? '' : end($this->groups)['prefix'];
        return $prefix === '' ? $pattern : ($pattern === '' ? $prefix : "$prefix/$pattern");
    }

    private function groupConnection(): ?string
    {
        return $this->groups === [] ? null : end($this->groups)['connection'];
    }
}
