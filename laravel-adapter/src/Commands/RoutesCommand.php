<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Routing\Route;
use MqttBroadcast\Laravel\Routing\Router;

/** The routes of routes/mqtt.php, as route:list shows the HTTP ones. */
class RoutesCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:routes
        {--connection= : Only the routes of this connection (and those of every connection)}
        {--json : The routes as JSON}';

    protected $description = 'List the MQTT routes of routes/mqtt.php';

    public function handle(Router $router): int
    {
        $rows = [];
        foreach ($router->routes() as $route) {
            $rows[] = [
                'connection' => $route->connection ?? '*',
                'pattern' => $route->pattern,
                'filter' => $route->filter(),
                'action' => $route->actionName(),
                'constraints' => $this->constraints($route),
            ];
        }
        foreach ($router->fallbacks() as $fallback) {
            $rows[] = [
                'connection' => $fallback['connection'] ?? '*',
                'pattern' => $fallback['filter'],
                'filter' => $fallback['filter'],
                'action' => 'fallback: rejected',
                'constraints' => '',
            ];
        }
        $connection = $this->option('connection');
        if ($connection !== null) {
            $rows = array_values(array_filter($rows, static fn (array $row) => in_array($row['connection'], ['*', $connection], true)));
        }
        if ($this->option('json')) {
            $this->line(json_encode($rows, JSON_UNESCAPED_SLASHES));
        } elseif ($rows === []) {
            $this->status('error', "Your application doesn't have any MQTT routes (routes/mqtt.php).");
            return self::FAILURE;
        } else {
            $this->table(['Connection', 'Pattern', 'Filter', 'Action', 'Constraints'], $rows);
        }
        return self::SUCCESS;
    }

    private function constraints(Route $route): string
    {
        $parts = [];
        foreach ($route->constraints() as $name => $regex) {
            $parts[] = "$name: $regex";
        }
        if ($route->decodesJson()) {
            $parts[] = $route->rules() === [] ? 'json' : 'json: ' . implode(', ', array_keys($route->rules()));
        }
        return implode('; ', $parts);
    }
}
