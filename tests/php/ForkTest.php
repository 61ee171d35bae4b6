<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * pcntl_fork after the connection is in use: the child builds its own connection,
 * the parent keeps its own. Runs in a child PHP process so a hang kills only that.
 */
final class ForkTest extends MqttTestCase
{
    public function testParentAndForkedChildBothPublish(): void
    {
        $topic = $this->topic('fork');
        $listener = $this->listen($this->topic('#'));
        $options = $this->options();
        // The child must get a client id of its own: two connections with one id would take each other over.
        unset($options['client_id']);

        $result = PhpScript::run(sprintf(<<<'PHP'
            $topic = %s;
            $client = new Mqtt\Client(%s, 'forked');
            $client->publishSync("$topic/parent", 'before-fork', 1);

            $pid = pcntl_fork();
            if ($pid === -1) {
                fwrite(STDERR, "fork failed\n");
                exit(10);
            }
            if ($pid === 0) {
                for ($i = 0; $i < 20; $i++) {
                    $client->publish("$topic/child", "child-$i", 1);
                }
                $client->publishSync("$topic/child", 'child-sync', 1);
                exit($client->flush(10.0) ? 0 : 11);
            }

            for ($i = 0; $i < 20; $i++) {
                $client->publish("$topic/parent", "parent-$i", 1);
            }
            // Bounded wait for the child: a hang is reported, not waited out.
            $deadline = microtime(true) + 20;
            while (($waited = pcntl_waitpid($pid, $status, WNOHANG)) === 0 && microtime(true) < $deadline) {
                usleep(20000);
            }
            if ($waited === 0) {
                posix_kill($pid, SIGKILL);
                pcntl_waitpid($pid, $status);
                echo "child hung\n";
                exit(12);
            }
            echo 'child exit: ', pcntl_wifexited($status) ? pcntl_wexitstatus($status) : 'signal ' . pcntl_wtermsig($status), "\n";

            $client->publishSync("$topic/parent", 'after-child', 1);
            echo 'parent flush: ', var_export($client->flush(10.0), true), "\n";
            $status = $client->status();
            echo "parent state: {$status['state']}\n";
            echo "parent published: {$status['published']}\n";
            PHP, var_export($topic, true), var_export($options, true)), [], 60.0);

        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertSame(
            "child exit: 0\nparent flush: true\nparent state: connected\nparent published: 22\n",
            $result->stdout,
            $result->describe()
        );

        $expectedParent = array_merge(['before-fork'], array_map(fn ($i) => "parent-$i", range(0, 19)), ['after-child']);
        $expectedChild = array_merge(array_map(fn ($i) => "child-$i", range(0, 19)), ['child-sync']);
        $listener->waitFor(count($expectedParent) + count($expectedChild));
        $listener->sync();
        $byTopic = [];
        foreach ($listener->messages() as [$t, $payload]) {
            $byTopic[$t][] = $payload;
        }
        $this->assertSame([], array_values(array_diff($expectedParent, $byTopic["$topic/parent"] ?? [])), 'parent messages missing');
        $this->assertSame([], array_values(array_diff($expectedChild, $byTopic["$topic/child"] ?? [])), 'child messages missing');
        $this->assertSame(['before-fork'], array_values(array_filter($byTopic["$topic/parent"], fn ($p) => $p === 'before-fork')), 'the child did not re-send what the parent had published');
    }
}
