<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Routing;

use Closure;
use Illuminate\Contracts\Bus\Dispatcher as Bus;
use Illuminate\Contracts\Container\Container;
use Illuminate\Contracts\Validation\Factory as Validation;
use MqttBroadcast\Laravel\Events\MqttMessageReceived;

/**
 * Runs a route's action for a message the extension matched to it, once the
 * message passed the route's constraints and, with json(), was decoded and validated.
 */
final class RouteDispatcher
{
    public function __construct(
        private readonly Container $container,
        private readonly Bus $bus,
    ) {
    }

    /**
     * @param array<string, string> $params the pattern's levels by name, as the extension matched them
     * @return ?string why the message is rejected; null once the action ran
     */
    public function dispatch(Route $route, MqttMessageReceived $message, array $params): ?string
    {
        $violation = $route->violation($params);
        if ($violation !== null) {
            return $violation;
        }
        // $message and $payload win over levels of those names: the handler must be able to rely on them.
        $arguments = ['message' => $message] + $params;
        if ($route->decodesJson()) {
            try {
                $payload = json_decode($message->message, true, 512, JSON_THROW_ON_ERROR);
            } catch (\JsonException $e) {
                return 'payload is not JSON: ' . $e->getMessage();
            }
            if ($route->rules() !== []) {
                if (!is_array($payload)) {
                    return 'payload is not a JSON object';
                }
                $validator = $this->container->make(Validation::class)->make($payload, $route->rules());
                if ($validator->fails()) {
                    return 'payload fails validation: ' . implode(' ', $validator->errors()->all());
                }
            }
            $arguments = ['payload' => $payload] + $arguments;
        }
        $this->run($route->action, $arguments);
        return null;
    }

    /** @param array<string, mixed> $arguments */
    private function run(Closure|string $action, array $arguments): void
    {
        // Also by type, as Laravel injects a request: fn (MqttMessageReceived $m, string $tenant).
        $byType = [MqttMessageReceived::class => $arguments['message']];
        if ($action instanceof Closure) {
            $this->container->call($action, $arguments + $byType);
        } elseif (method_exists($action, '__invoke')) {
            $this->container->call([$this->container->make($action), '__invoke'], $arguments + $byType);
        } else {
            // A job: its constructor takes the arguments by name; the bus queues it when it is ShouldQueue.
            $this->bus->dispatch($this->container->make($action, $arguments));
        }
    }
}
