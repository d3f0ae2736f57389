// Opens the closed <details> around a linked passage, so links into the document view always land.
function reveal(){var id=location.hash.slice(1);if(!id)return;try{id=decodeURIComponent(id)}catch(e){}
var el=document.getElementById(id);if(!el)return;
for(var p=el.parentElement;p;p=p.parentElement){if(p.tagName==='DETAILS')p.open=true}
el.scrollIntoView({block:'center'})}
function docs(open){document.querySelectorAll('details.doc').forEach(function(d){d.open=open})}
window.addEventListener('hashchange',reveal);window.addEventListener('DOMContentLoaded',reveal);
window.addEventListener('DOMContentLoaded',function(){document.querySelectorAll('button[data-docs]').forEach(function(b){
b.addEventListener('click',function(){docs(b.getAttribute('data-docs')==='open')})})});
