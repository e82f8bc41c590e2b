// Document 004 ("Integration with Main App"): the main app's three snippets as printed, each wrapped in a function so
// ../scripts/generator-004.ts can run them. Changed: the import below, which gives the snippets a fetch and an
// EventSource on the service's /generator base URL with the caller's key (in the browser the page's origin and the
// main app's proxy do that), the function wrappers, and the `return` lines that hand back what the snippets computed.
import { fetch, EventSource } from "../scripts/generator-origin.ts";

// 1. Start Generation
export async function startGeneration() {
   const response = await fetch('/start', {
     method: 'POST',
     headers: {'Content-Type': 'application/json'},
     body: JSON.stringify({
       project_id: 'proj_123',
       chat_id: 'chat_456', 
       topic: 'Fractions',
       life_skill: 'Problem Solving',
       group_size: 3,
       duration_min: 45,
       owner_email: 'teacher@school.ae'
     })
   });
   const {run_id} = await response.json();
   return { status: response.status, run_id: run_id as string };
}

// 2. Stream Progress
export function streamProgress(run_id: string) {
   const eventSource = new EventSource(`/events/stream?run_id=${run_id}`);
   
   eventSource.addEventListener('section_completed', (event) => {
     const data = JSON.parse(event.data);
     console.log('Section completed:', data.section_id);
     // Refresh UI or fetch updated project status
   });
   
   eventSource.addEventListener('run_completed', (event) => {
     console.log('Project generation complete!');
     eventSource.close();
   });
   return eventSource;
}

// 3. Get Final Result
export async function getFinalResult(project_id: string) {
   const spec = await fetch(`/status/${project_id}`).then(r => r.json());
   return spec;
}
